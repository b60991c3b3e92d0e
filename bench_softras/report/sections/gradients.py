"""The report's section of the ``gradients`` stage: gradient accuracy and forward
fidelity vs sigma."""

from __future__ import annotations

import pandas as pd

from bench_softras import results_schema as schema

from .. import figures
from ..document import Document, png_bytes
from ..order import ordered as _ordered
from .base import ReportInputs, absent_note, missing

STAGE = "gradients"


def gradient_summary(grad: pd.DataFrame) -> pd.DataFrame:
    """Per renderer and sigma: gradient cosine similarity (mean over scenes), one column
    per loss, plus the mean sign agreement and relative L2 error over all losses."""
    cos = grad.groupby(["renderer", "sigma", "loss"], dropna=False)["cosine"].mean()
    cos = cos.unstack("loss")
    cos.columns = [f"cosine: {c}" for c in cos.columns]
    rest = grad.groupby(["renderer", "sigma"], dropna=False)[["sign_agree", "rel_l2"]].mean()
    out = cos.join(rest).reset_index()
    out["_r"] = out["renderer"].map({n: i for i, n in enumerate(_ordered(out["renderer"]))})
    return out.sort_values(["_r", "sigma"]).drop(columns="_r").reset_index(drop=True)


def fidelity_summary(fid: pd.DataFrame) -> pd.DataFrame:
    """Per renderer and sigma: mean (over scenes) forward-fidelity measures."""
    cols = [c for c in ("mad_exact", "mad_hard", "sil_iou", "sil_iou_hard") if c in fid]
    out = fid.groupby(["renderer", "sigma"], dropna=False)[cols].mean().reset_index()
    out["_r"] = out["renderer"].map({n: i for i, n in enumerate(_ordered(out["renderer"]))})
    return out.sort_values(["_r", "sigma"]).drop(columns="_r").reset_index(drop=True)


def _section(doc: Document, grad, fid, absent: dict[str, str]) -> None:
    doc.heading("Gradient accuracy and forward fidelity vs sigma")
    if grad is None and fid is None:
        missing(doc, "gradients")
        return
    absent_note(doc, absent)
    if grad is not None:
        doc.text("Each renderer's gradient of several silhouette losses w.r.t. the vertices, "
                 "compared with the finite-difference gradient of the exact pixel coverage "
                 "(`metrics.gradient_accuracy`): cosine similarity, sign agreement, relative "
                 "L2 error, averaged over scenes. Renderers without a sigma appear once "
                 "(blank sigma) and as dashed lines.")
        doc.table(gradient_summary(grad), "gradient_accuracy_summary",
                  "Gradient accuracy (mean over scenes)", ".3g")
        fig, data = figures.gradient_accuracy(grad)
        doc.figure(png_bytes(fig), "gradient_accuracy", "Gradient accuracy vs sigma.", data)
    if fid is not None:
        doc.text("Forward fidelity: mean absolute difference of the rendered silhouette to the "
                 "exact pixel coverage (`mad_exact`) and to the hard silhouette "
                 "(`mad_hard`), and IoU after thresholding at 0.5.")
        doc.table(fidelity_summary(fid), "forward_fidelity_summary",
                  "Forward fidelity (mean over scenes)", ".3g")
        fig, data = figures.forward_fidelity(fid)
        doc.figure(png_bytes(fig), "forward_fidelity", "Forward fidelity vs sigma.", data)


def render(doc: Document, inp: ReportInputs) -> None:
    """The gradients section."""
    _section(doc, inp.tables.get(schema.GRADIENT_ACCURACY),
             inp.tables.get(schema.FORWARD_FIDELITY), inp.absent)
