"""The report's section of the ``ablations`` stage: the ablation fits, their bars, and
the colour fit (its sentence from the numbers and its views)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench_softras import results_schema as schema
from bench_softras.runs import stage_dir

from .. import figures
from ..document import Document, png_bytes
from ..results import run_file
from .base import ReportInputs, missing

STAGE = "ablations"


def ablation_table(abl: pd.DataFrame) -> pd.DataFrame:
    """The ablation fits in display order: baseline, the sigma sweep (by sigma), then the
    switched-off terms, fewer views and the colour fit; the columns of
    :data:`bench_softras.experiments.fitting.ABLATION_COLUMNS` without shape/renderer."""
    order = {"baseline": 0, "sigma": 1, "no laplacian": 2, "no flatten": 3, "color": 5}
    out = abl.copy()
    out["_v"] = out["variant"].map(lambda v: order.get(v, 4))
    out = out.sort_values(["_v", "sigma", "num_views"]).drop(columns="_v")
    keep = [c for c in out.columns if c not in ("shape", "renderer")]
    return out[keep].reset_index(drop=True)


def color_sentence(abl: pd.DataFrame) -> str:
    """What the ``color`` row of the ablations shows, generated from its numbers: the
    geometry against the ``baseline`` row (equal, or the difference stated) and the
    colour error before and after the fit."""
    row = abl[abl["variant"] == "color"].iloc[0]
    base = abl[abl["variant"] == "baseline"]
    geometry = ""
    if len(base):
        b = base.iloc[0]
        dv, ds = row["voxel_iou"] - b["voxel_iou"], row["silhouette_iou"] - b["silhouette_iou"]
        geometry = (" Its IoUs equal the baseline's (voxel "
                    f"{row['voxel_iou']:.4f}, silhouette {row['silhouette_iou']:.4f}): the "
                    "colour loss leaves the geometry as it was." if dv == 0 and ds == 0 else
                    f" Its IoUs differ from the baseline's by {dv:+.4f} (voxel) and "
                    f"{ds:+.4f} (silhouette): the geometry of the two fits is not the same "
                    "(run-to-run differences of the renderer's parallel sums; see "
                    "docs/running.md, \"Seeds and reproducibility\").")
    start, end = row["color_mse_start"], row["color_mse"]
    change = ("falls from" if end < start else "does not fall: from")
    return (f"Colour reconstruction (Sec. 4 of the paper), the `color` row: the same fit "
            f"also learns per-vertex colours from an l2 image loss (weight "
            f"{row['color_weight']:g}) against the target's shaded renderings, drawn by the "
            f"shared colour pass (`renderers.render_vertex_colors`: z-buffer visibility, "
            f"perspective-correct interpolation), which gives gradients to the colours "
            f"only, so the geometry learns from the silhouettes alone.{geometry} Colour MSE "
            f"over the pixels the target or the fit covers, all 24 views, {change} "
            f"{start:.4f} (the mid-grey start) to {end:.4f} after the fit"
            + ("; vertex colours cannot reproduce the target's view-dependent (headlight) "
               "shading, so it stays above zero." if end > 0 else "."))


def _section(doc: Document, abl, results_dir: Path) -> None:
    doc.heading("Ablations (mesh fitting, softras)")
    if abl is None:
        missing(doc, "ablations")
        return
    shape = ", ".join(f"`{s}`" for s in abl["shape"].unique())
    renderer = ", ".join(f"`{r}`" for r in abl["renderer"].unique())
    doc.text(f"The paper's ablations, run cheaply as mesh fits of one target ({shape}) with "
             f"{renderer} instead of reconstruction training: the fitting configuration "
             f"of the run (`baseline`) with sigma swept (`sigma`), without the Laplacian "
             f"term, without the flattening term, trained on fewer evenly spaced "
             f"views than the data set's 24, and on more (`num_views` > 24: the 24 plus "
             f"views from below, elevation -30, which the benchmark renderings never "
             f"show; the paper's Fig. 8 remedy for flat parts). Final voxel IoU and hard "
             f"silhouette IoU over the 24 benchmark views; `wall_s`: optimisation "
             f"seconds of the fit.")
    doc.table(ablation_table(abl), "ablations", "Ablations: final IoU of each fit", ".4g")
    fig, data = figures.ablation_bars(abl)
    doc.figure(png_bytes(fig), "ablation_iou",
               "Final IoU vs sigma (left; the baseline included at its sigma) and per "
               "variant at the baseline sigma (right).", data)
    color = abl[abl["variant"] == "color"] if "variant" in abl else abl.iloc[:0]
    if len(color):
        doc.text(color_sentence(abl))
        npz = run_file(results_dir, stage_dir(results_dir, "ablations") / schema.COLOR_VIEWS_NPZ)
        if npz.exists():
            with np.load(npz) as z:
                fig, data = figures.color_views(z["views"], z["target"], z["fitted"])
            doc.figure(png_bytes(fig), "color_fit",
                       "Colour reconstruction: the target's shaded renderings and the fitted "
                       "vertex colours (colour pass of the fitted mesh).", data)


def render(doc: Document, inp: ReportInputs) -> None:
    """The ablations section."""
    _section(doc, inp.tables.get(schema.ABLATIONS), inp.results_dir)
