"""The report's section of the ``timing`` stage: the base point, ``softras`` vs its
dense PyTorch twin, the scaling figures and the configurations over the cost cap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench_softras import results_schema as schema
from bench_softras.runs import stage_dir

from .. import figures
from ..document import Document, png_bytes
from ..order import ordered as _ordered
from ..results import read_record, run_file
from .base import ReportInputs, absent_note, missing

STAGE = "timing"


def timing_base_table(timing: pd.DataFrame, base: dict | None = None) -> pd.DataFrame:
    """Rows of the timing table at the study's base point (faces, image size, batch and,
    for soft renderers, sigma of the config; default: the most common values), one per
    renderer and pass."""
    if base is None:
        base = {k: timing[k].mode().iloc[0] for k in ("faces", "image_size", "batch")}
        sig = timing["sigma"].dropna()
        base["sigma"] = sig.mode().iloc[0] if len(sig) else math.nan
    sel = ((timing["faces"] == base["faces"]) & (timing["image_size"] == base["image_size"])
           & (timing["batch"] == base["batch"])
           & (timing["sigma"].isna() | np.isclose(timing["sigma"].fillna(-1), base["sigma"])))
    cols = ["renderer", "pass", "faces", "image_size", "batch", "sigma", "time_s", "peak_mem_mb",
            "images_per_s", "pairs_evaluated", "ns_per_pair"]
    out = timing[sel].drop_duplicates(["renderer", "pass"])[cols].copy()
    out["_r"] = out["renderer"].map({n: i for i, n in enumerate(_ordered(out["renderer"]))})
    return out.sort_values(["_r", "pass"]).drop(columns="_r").reset_index(drop=True)


def taichi_vs_torch_table(timing: pd.DataFrame, fast: str = "softras",
                          dense: str = "softras_torch") -> pd.DataFrame:
    """``fast`` (Taichi) against ``dense`` (PyTorch) at every setting both were timed at:
    their times, peak memory and the speed-up ``dense / fast``, one row per setting and
    pass (empty when one of them is missing)."""
    keys = ["faces", "image_size", "batch", "sigma", "pass"]
    cols = [*keys, "time_s", "peak_mem_mb"]
    a = timing[timing["renderer"] == fast].drop_duplicates(keys)[cols]
    b = timing[timing["renderer"] == dense].drop_duplicates(keys)[cols]
    out = a.merge(b, on=keys, suffixes=(f" {fast}", f" {dense}"))
    out["speed-up"] = out[f"time_s {dense}"] / out[f"time_s {fast}"]
    return out.sort_values(keys).reset_index(drop=True)


def _section(doc: Document, timing, results_dir: Path, absent: dict[str, str]) -> None:
    doc.heading("Timing and scaling")
    if timing is None:
        missing(doc, "timing")
        return
    absent_note(doc, absent)
    notes = read_record(run_file(results_dir, stage_dir(results_dir, "timing") /
                                 schema.TIMING_NOTES_JSON)) or {}
    cfg = notes.get("config") or {}
    doc.text("Median wall time (`time.perf_counter`, after warm-up) of `rasterize` on "
             "screen-space faces of the icosphere template, its backward pass and both, "
             "varying one factor at a time around the base point; `pairs_evaluated`: "
             "pixel-face pairs the renderer evaluates per call (softras: its candidate "
             "pairs after culling; hard/n3mr: face bounding-box pixels; dense renderers: "
             "`B*F*H*W`). Peak memory: " + str(notes.get("memory_method", "see timing.py"))
             + f". Repeats: {cfg.get('repeats', '?')}, warm-up: {cfg.get('warmup', '?')}.")
    base = None
    if cfg:
        base = {"faces": 20 * 4 ** int(cfg["base_subdivisions"]),
                "image_size": cfg["base_image_size"], "batch": cfg["base_batch"],
                "sigma": cfg["base_sigma"]}
    doc.table(timing_base_table(timing, base), "timing_base", "At the base point", ".4g")
    vs = taichi_vs_torch_table(timing)
    if len(vs):
        doc.table(vs, "timing_softras_vs_torch", "`softras` (Taichi, culled candidate "
                  "pairs) vs `softras_torch` (dense PyTorch) where both were timed", ".4g")
    for value, caption in (("time_s", "Time per call (s)"),
                           ("peak_mem_mb", "Peak memory increase (MiB)"),
                           ("images_per_s", "Throughput (images/s)"),
                           ("ns_per_pair", "Cost per evaluated pixel-face pair (ns)")):
        passes = (("forward", "backward", "forward+backward") if value == "time_s"
                  else ("forward+backward",))
        fig, data = figures.timing_scaling(timing, value, passes)
        doc.figure(png_bytes(fig), f"timing_{value}", f"{caption} vs each factor (log axes).",
                   data)
    skipped_path = run_file(results_dir, stage_dir(results_dir, "timing") /
                            schema.csv_name(schema.TIMING_SKIPPED))
    if skipped_path.is_file():
        skipped = pd.read_csv(skipped_path)
        if len(skipped):
            who = ", ".join(f"`{n}`" for n in sorted(skipped["renderer"].unique()))
            doc.text(f"{len(skipped)} configurations were skipped: over the cost cap "
                     f"(`max_dense_pairs`) of the costly renderers ({who}); listed in "
                     f"`data/{schema.csv_name(schema.TIMING_SKIPPED)}`.")
            doc.data[schema.TIMING_SKIPPED] = skipped


def render(doc: Document, inp: ReportInputs) -> None:
    """The timing section."""
    _section(doc, inp.tables.get(schema.TIMING), inp.results_dir, inp.absent)
