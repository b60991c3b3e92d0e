"""The report's section of the ``fitting`` stage: each renderer's tuned settings
(:mod:`bench_softras.report.tuning`), the final step of every fit, the curves, the
paired comparison and the examples."""

from __future__ import annotations

import pandas as pd

from bench_softras import results_schema as schema

from .. import evidence, figures, tuning
from ..document import Document, png_bytes
from ..order import ordered as _ordered
from .base import ReportInputs, absent_note, missing

STAGE = "fitting"


def fitting_final_table(fit: pd.DataFrame) -> pd.DataFrame:
    """The last recorded step of every (shape, renderer): its category (when recorded),
    IoUs and optimisation time."""
    last = fit.sort_values("step").groupby(["shape", "renderer"], sort=False).tail(1)
    cols = ["shape", *(["category"] if "category" in fit else []), "renderer", "step",
            "voxel_iou", "silhouette_iou", "loss", "wall_s"]
    last = last[cols].copy()
    last["_r"] = last["renderer"].map({n: i for i, n in enumerate(_ordered(last["renderer"]))})
    return last.sort_values(["shape", "_r"]).drop(columns="_r").reset_index(drop=True)


def _section(doc: Document, fit, ex: dict, settings: dict, cfg: dict,
             absent: dict[str, str]) -> None:
    doc.heading("Mesh fitting")
    if fit is None:
        missing(doc, "fitting")
        return
    absent_note(doc, absent)
    doc.text("The 642-vertex sphere is deformed by Adam on the IoU loss of its silhouettes "
             "(plus Laplacian and flattening terms) against the target's 24 benchmark "
             "silhouettes; voxel IoU and the hard silhouette IoU are recorded along the "
             "way. The `hard` renderer has zero gradients, so its curve stays at the "
             "sphere (a control).")
    tuning.tuning_section(doc, settings.get(schema.FIT_CHOICES),
                          settings.get(schema.FIT_TUNING), settings.get(schema.FIT_TARGETS), cfg)
    conv = evidence.fitting_convergence(fit)
    final = fitting_final_table(fit).merge(
        conv[["shape", "renderer", "status"]].rename(columns={"status": "convergence"}),
        on=["shape", "renderer"], how="left")
    doc.table(final, "fitting_final", "Final step of each fit (`convergence`: voxel-IoU "
              "gain over the last quarter of the steps vs the threshold below)", ".4f")
    fig, data = figures.fitting_curves(fit)
    doc.figure(png_bytes(fig), "fitting_curves", "IoU vs optimisation step (mean over "
               "seeds, range across seeds as a band).", data)
    order = figures._order(fit["renderer"].unique())
    evidence.fitting_evidence(doc, fit, order)
    if ex.get("fit_shapes") is not None and len(ex["fit_shapes"]):
        fig, data = figures.fitting_silhouettes(ex)
        doc.figure(png_bytes(fig), "fitting_silhouettes",
                   "Target silhouettes and the fitted meshes (drawn by `hard`).", data)
        fig, _ = figures.fitted_meshes(ex)
        doc.figure(png_bytes(fig), "fitting_meshes", "The fitted meshes.")


def render(doc: Document, inp: ReportInputs) -> None:
    """The fitting section."""
    settings = {k: inp.tables.get(k) for k in (schema.FIT_CHOICES, schema.FIT_TUNING,
                                                 schema.FIT_TARGETS)}
    _section(doc, inp.tables.get(schema.FITTING), inp.examples, settings, inp.cfg, inp.absent)
