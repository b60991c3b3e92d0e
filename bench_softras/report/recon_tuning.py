"""Reconstruction's per-renderer sweep in the report: the grid, the rule, each renderer's
choice (one generated sentence each) and the sweep's table.  Reads the tables the
reconstruction stage saved (``recon_tuning``, ``recon_choices``:
:mod:`bench_softras.experiments.recon_tuning`) and the run's configuration; reuses the
fitting sweep's marking of the chosen points (:mod:`.tuning`)."""

from __future__ import annotations

import math

import pandas as pd

from .document import Document
from .tuning import _mark_chosen, _n

#: The selection rule, as the report states it (one source: ``fit_bench.choose`` with
#: the reconstruction's score).
RULE = ("the grid point with the highest mean voxel IoU on the tuning objects (each "
        "predicted from a few views); exact ties go to the preset's own values, then to "
        "the first point in grid order")

#: Why the slow references are not trained by default.
SLOW_REASON = ("the slow references (`slow` in their description: dense `B*F*H*W` pairs "
               "or Monte Carlo rays) are opt-in (`--renderers`): a training step renders "
               "4 x batch silhouettes, so one of their runs costs many times a Taichi "
               "renderer's budget; named, they borrow the choice of the renderer their "
               "description names (`tuned_from`)")


def choice_sentence(row, preset_lr: float) -> str:
    """One generated sentence naming the settings a renderer trained with and why."""
    sigma = "" if pd.isna(row.sigma) else f" and sigma {row.sigma:.3g}"
    what = (f"`{row.renderer}` trained with learning rate {row.lr:.3g} "
            f"({row.lr_scale:g}x the preset's {preset_lr:g}){sigma}")
    if row.chosen_by == "sweep":
        return (f"{what}, the best of {_n(row.grid_points, 'grid point')} (val voxel IoU "
                f"{row.tuning_val_voxel_iou:.3f} after {_n(row.tuning_steps, 'step')}).")
    return f"{what}: {row.chosen_by}."


def sweep_table(tuning: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """The sweep, one row per renderer and grid point, with the chosen points marked."""
    cols = ["renderer", "lr_scale", "lr", "sigma", "val_voxel_iou", "val_silhouette_iou",
            "val_objects", "steps", "wall_s"]
    return _mark_chosen(tuning[[c for c in cols if c in tuning]], choices)


def recon_tuning_section(doc: Document, choices: pd.DataFrame | None,
                         tuning: pd.DataFrame | None, cfg: dict) -> None:
    """The reconstruction sweep and the settings each renderer trained with (nothing
    when the run saved no choices: a run from before the sweep)."""
    if choices is None:
        return
    doc.heading("Per-renderer settings (a sweep on val objects)", level=3)
    grid = cfg.get("recon_tuning") or {}
    recon = cfg.get("recon") or {}
    lr = float(recon.get("lr", math.nan))
    scales = ", ".join(f"{s:g}" for s in grid.get("lr_scales", []))
    sigmas = ", ".join(f"{s:g}" for s in grid.get("sigmas", []))
    doc.text(f"Before training, each renderer's learning rate ({scales} x the preset's "
             f"{lr:g}) and, for renderers with a sharpness parameter, its sigma ({sigmas}) "
             f"were chosen by short training runs of {grid.get('steps', '?')} steps each "
             f"(sigma not decayed), scored on the first {grid.get('val_objects', '?')} "
             f"objects per category of the `{grid.get('split', 'val')}` split from "
             f"{grid.get('val_views', '?')} views each: never the evaluated "
             f"`{recon.get('eval_split', 'test')}` split. Rule: {RULE}. Renderers without "
             f"a gradient keep the preset's values; {SLOW_REASON}.")
    for row in choices.itertuples(index=False):
        doc.text("- " + choice_sentence(row, lr if math.isfinite(lr) else row.lr / row.lr_scale))
    doc.table(choices, "recon_choices", "Settings each renderer trained with", ".4g")
    if tuning is not None and len(tuning):
        doc.table(sweep_table(tuning, choices), "recon_tuning_sweep",
                  "The reconstruction sweep: val IoU of each short run", ".4g")
