"""Non-finite measurements in the saved tables, flagged in the report.

A NaN or Inf where a table records a measurement (an IoU, a gradient cosine, a time) is
no score: pandas means skip it and the paired comparisons leave out the objects it
touches (a renderer with only NaN drops out of them), so a table read as it is would
silently change a mean or lose a renderer.  :func:`nonfinite_cautions` finds such
values per table and renderer; :func:`nonfinite_section` puts them at the top of the
report as a caution.  Columns where NaN means "not applicable" (``sigma`` of a renderer
without one, ``cosine_mitsuba`` without Mitsuba, ``color_mse`` of a silhouette-only run)
are not measurements here and are not checked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench_softras import results_schema as schema

from .document import Document
from .results import table_key

#: Table key (:data:`bench_softras.report.results.TABLES`) -> its measured columns,
#: which must be finite wherever a row exists.
MEASURED = {
    table_key(schema.RECON_IOU): ("voxel_iou",),
    schema.RECON_PER_OBJECT: ("voxel_iou",),
    schema.FITTING: ("loss", "voxel_iou", "silhouette_iou"),
    schema.FIT_TUNING: ("silhouette_iou", "voxel_iou"),
    schema.GRADIENT_ACCURACY: ("cosine", "rel_l2", "sign_agree", "norm_ratio"),
    schema.FORWARD_FIDELITY: ("mad_exact", "mad_hard", "sil_iou", "sil_iou_hard"),
    schema.ABLATIONS: ("voxel_iou", "silhouette_iou"),
    schema.TIMING: ("time_s",),
}


def nonfinite_cautions(tables: dict[str, pd.DataFrame | None]) -> list[str]:
    """One line per (table, renderer) whose :data:`MEASURED` columns hold NaN/Inf (or
    text that is not a number), naming the table, the renderer, the columns and how
    many of its rows; ``[]`` when every measurement is finite.  ``tables``: key ->
    table as read by :func:`bench_softras.report.results.read_table` (``None``: absent)."""
    lines = []
    for key, columns in MEASURED.items():
        df = tables.get(key)
        cols = [c for c in columns if df is not None and c in df.columns]
        if not cols:
            continue
        values = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if not bad.any():
            continue
        who = df["renderer"].astype(str) if "renderer" in df.columns else pd.Series(
            "?", index=df.index)
        for renderer in sorted(who[bad.any(axis=1)].unique()):
            mine = (who == renderer).to_numpy()
            named = [f"`{c}`" for c, hit in zip(cols, bad[mine].any(axis=0), strict=True)
                     if hit]
            lines.append(f"table `{key}`, renderer `{renderer}`: "
                         f"{int(bad[mine].any(axis=1).sum())} of {int(mine.sum())} rows hold "
                         f"NaN/Inf in {', '.join(named)}")
    return lines


def nonfinite_section(doc: Document, tables: dict[str, pd.DataFrame | None]) -> None:
    """A "Caution: non-finite values" section listing :func:`nonfinite_cautions`
    (nothing when there are none)."""
    lines = nonfinite_cautions(tables)
    if not lines:
        return
    doc.heading("Caution: non-finite values")
    doc.text("These saved measurements are NaN or Inf, which is no score: the means below "
             "skip them and the paired comparisons leave out the objects they touch (a "
             "renderer with none left drops out of them), so the renderers named here have "
             "incomplete numbers. A renderer that returned non-finite output, or a damaged "
             "table, wrote them; rerun that stage (`--force`) once it is fixed.")
    doc.code("\n".join(lines))
