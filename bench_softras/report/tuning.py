"""The fitting benchmark's settings in the report: which targets were fitted, the
per-renderer tuning sweep, the settings each renderer used (with one generated sentence
per renderer) and the settings reconstruction used.  Reads the tables the fitting stage
saved (:mod:`bench_softras.experiments.fit_bench`)."""

from __future__ import annotations

import math

import pandas as pd

from .document import Document

#: The selection rule, as the report states it (one source: ``fit_bench.choose``).
SELECTION_RULE = ("the grid point with the highest mean final silhouette IoU (24 benchmark "
                  "views, drawn by `hard`) over the tuning targets; exact ties go to the "
                  "preset's own values, then to the first point in grid order")


def sweep_summary(tuning: pd.DataFrame) -> pd.DataFrame:
    """Per renderer and grid point: mean final silhouette and voxel IoU over the tuning
    targets, how many targets, and whether it is the point chosen (``chosen``)."""
    keys = ["renderer", "lr_scale", "lr", "sigma"]
    out = (tuning.groupby(keys, dropna=False)
           .agg(silhouette_iou=("silhouette_iou", "mean"), voxel_iou=("voxel_iou", "mean"),
                targets=("target", "nunique"), steps=("steps", "first"))
           .reset_index())
    return out


def _mark_chosen(summary: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    chosen = {(r.renderer, round(float(r.lr), 12),
               None if pd.isna(r.sigma) else round(float(r.sigma), 15))
              for r in choices.itertuples(index=False)}
    summary = summary.copy()
    summary["chosen"] = [(r, round(float(lr), 12), None if pd.isna(s) else round(float(s), 15))
                         in chosen for r, lr, s in zip(summary["renderer"], summary["lr"],
                                                       summary["sigma"], strict=True)]
    return summary


def _n(count, noun: str) -> str:
    """``"1 target"``, ``"3 targets"``."""
    return f"{int(count)} {noun}{'' if int(count) == 1 else 's'}"


def choice_sentence(row, preset_lr: float) -> str:
    """One generated sentence naming the settings a renderer fitted with and why."""
    sigma = "" if pd.isna(row.sigma) else f" and sigma {row.sigma:.3g}"
    what = (f"`{row.renderer}` fitted with learning rate {row.lr:.3g} "
            f"({row.lr_scale:g}x the preset's {preset_lr:g}){sigma}")
    if row.chosen_by == "sweep":
        why = (f", the best of {_n(row.grid_points, 'grid point')} (mean final silhouette "
               f"IoU {row.tuning_silhouette_iou:.3f} on {_n(row.tuning_targets, 'tuning target')})")
    else:
        why = f": {row.chosen_by}"
    return (f"{what}{why}; benchmark: {_n(row.targets, 'target')}, {_n(row.steps, 'step')}, "
            f"{_n(row.views_per_step, 'view')} per step.")


def _targets_text(targets: pd.DataFrame | None, bench: dict) -> str:
    if targets is None:
        return ""
    b = targets[targets["role"] == "benchmark"]
    t = targets[targets["role"] == "tuning"]
    data = b[b["spec"].str.fullmatch(r"(train|val|test)/[^/]+/\d+")]
    cats = data["category"].nunique()
    user = [s for s in b["shape"] if s not in set(data["shape"])]
    text = (f"Targets: {len(b)} in all, {len(data)} objects of the data set's "
            f"`{bench.get('split', 'test')}` split (the first {bench.get('per_category', '?')} "
            f"of each of its {cats} categories: their 24 stored silhouettes and voxels)")
    text += f" plus {', '.join(f'`{u}`' for u in user)}." if user else "."
    if len(t):
        overlap = set(t["spec"]) & set(b["spec"])
        text += (f" Tuning used {_n(len(t), 'other object')}, of the `{bench.get('tuning_split')}` "
                 f"split ({', '.join(f'`{s}`' for s in t['spec'])}), "
                 + ("never a benchmark target." if not overlap else
                    f"WARNING: {len(overlap)} of them are also benchmark targets."))
    return text


def _recon_text(cfg: dict) -> str:
    recon = cfg.get("recon") or {}
    if not recon:
        return ""
    if cfg.get("recon_tuning"):
        return ("Reconstruction does not reuse these choices (the fitting sweep tunes a "
                "642-vertex deformation, not the generator network): it has its own sweep "
                "on val objects, shown with the reconstruction results.")
    return (f"Reconstruction does not reuse these choices: every renderer trained with the "
            f"preset's sigma {recon.get('sigma', math.nan):.3g} and learning rate "
            f"{recon.get('lr', math.nan):.3g} (the fitting sweep tunes a 642-vertex "
            f"deformation, not the generator network, so its learning rates do not carry "
            f"over; reusing the sigma per renderer is left to `--set recon.sigma=...`).")


def tuning_section(doc: Document, choices: pd.DataFrame | None, tuning: pd.DataFrame | None,
                   targets: pd.DataFrame | None, cfg: dict) -> None:
    """The targets, the sweep, the chosen settings and the reconstruction's settings."""
    doc.heading("Targets and per-renderer settings", level=3)
    bench = cfg.get("fit_bench") or {}
    fit = cfg.get("fit") or {}
    text = _targets_text(targets, bench)
    if text:
        doc.text(text)
    if choices is None:
        doc.text("No per-renderer settings were saved (a fitting stage from before the "
                 "tuning sweep): every renderer fitted with the preset's values.")
        return
    doc.text(f"Each renderer's learning rate (every renderer with a gradient: "
             f"{', '.join(f'{s:g}' for s in bench.get('lr_scales', []))} x the preset's "
             f"{fit.get('lr', math.nan):g}) and, for renderers with a sharpness parameter, "
             f"its sigma ({', '.join(f'{s:g}' for s in bench.get('sigmas', []))}) were "
             f"chosen by a sweep of {bench.get('tuning_steps') or fit.get('steps')}-step "
             f"fits on the tuning targets. Rule: {SELECTION_RULE}. Slow references "
             f"({', '.join(f'`{s}`' for s in bench.get('slow_renderers', []))}) have no "
             f"sweep of their own: they take the values chosen for another renderer "
             f"({', '.join(bench.get('tuned_from', []))}; `softras_torch` is numerically "
             f"the same function as `softras`) and fit only the first "
             f"{bench.get('slow_targets')} target(s) with "
             f"{bench.get('slow_views_per_step')} view(s) per step and "
             f"{bench.get('slow_steps') or fit.get('steps')} steps, so their rows enter "
             f"the paired comparisons on those targets only.")
    for row in choices.itertuples(index=False):
        doc.text("- " + choice_sentence(row, float(fit.get("lr", row.lr / row.lr_scale))))
    doc.table(choices, "fit_choices", "Settings each renderer fitted with", ".4g")
    if tuning is not None and len(tuning):
        doc.table(_mark_chosen(sweep_summary(tuning), choices), "fit_tuning_sweep",
                  "The tuning sweep: mean final IoU over the tuning targets per grid point",
                  ".4g")
    recon = _recon_text(cfg)
    if recon:
        doc.text(recon)
