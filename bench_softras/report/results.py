"""The report's readers of a main-job results directory (``results/<run-id>/``, layout
and names in :mod:`bench_softras.runs`): tables, training logs, example arrays.

A sharded stage (:mod:`bench_softras.shards`) that has not finished whole (no
``stage.json`` marked done, e.g. only shards ran) is read by merging its units' tables;
:func:`missing_units` names the units none of the shards finished.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench_softras.jsonl import read_records
from bench_softras.runs import (
    EXAMPLES_NPZ,
    RECON_RUNS_GLOB,
    SEED_PREFIX,
    read_stage_record,
    stage_dir,
)
from bench_softras.shards import SHARDED_STAGES, merge_units

#: (stage, stem) of every table a report reads.
TABLES = {
    "fitting": ("fitting", "fitting"),
    "fit_choices": ("fitting", "fit_choices"),
    "fit_tuning": ("fitting", "fit_tuning"),
    "fit_targets": ("fitting", "fit_targets"),
    "recon": ("reconstruction", "recon_iou"),
    "recon_choices": ("reconstruction", "recon_choices"),
    "recon_tuning": ("reconstruction", "recon_tuning"),
    "gradient_accuracy": ("gradients", "gradient_accuracy"),
    "forward_fidelity": ("gradients", "forward_fidelity"),
    "ablations": ("ablations", "ablations"),
    "timing": ("timing", "timing"),
    "recon_per_object": ("reconstruction", "recon_per_object"),
}


def read_table(results_dir: str | Path, key: str) -> pd.DataFrame | None:
    """Table ``key`` of :data:`TABLES` (Parquet, else CSV), or ``None`` when absent.
    ``class_id`` columns are read as strings."""
    stage, stem = TABLES[key]
    d = stage_dir(results_dir, stage)
    if _merged(results_dir, stage):
        df = merge_units(d, stem)[0]
        if df is None:
            return None
    elif (d / f"{stem}.parquet").is_file():
        df = pd.read_parquet(d / f"{stem}.parquet")
    elif (d / f"{stem}.csv").is_file():
        df = pd.read_csv(d / f"{stem}.csv", dtype={"class_id": str})
    else:
        return None
    if "class_id" in df.columns:
        df["class_id"] = df["class_id"].astype(str)
    return df


def _merged(results_dir: str | Path, stage: str) -> bool:
    """Whether ``stage`` is read from its units: a sharded stage not finished whole."""
    rec = read_stage_record(results_dir, stage) or {}
    return stage in SHARDED_STAGES and rec.get("status") != "done"


def missing_units(results_dir: str | Path) -> list[str]:
    """``missing: <stage> <unit> (<why>)`` for every planned unit of a sharded stage
    that no shard finished (none for a stage that finished whole)."""
    return [line for stage in SHARDED_STAGES if _merged(results_dir, stage)
            for line in merge_units(stage_dir(results_dir, stage), "")[1]]


def read_run_logs(results_dir: str | Path, name: str) -> pd.DataFrame | None:
    """Every reconstruction run's ``name`` file (``curve.jsonl``: validation curve;
    ``metrics.jsonl``: training loss per log step) as one table with ``renderer`` and
    ``seed`` columns (from ``reconstruction/<renderer>/seed_<s>/``), or ``None`` when
    no run has one."""
    frames = []
    for path in sorted(stage_dir(results_dir, "reconstruction").glob(f"{RECON_RUNS_GLOB}/{name}")):
        recs = read_records(path)
        seed = path.parent.name.removeprefix(SEED_PREFIX)
        if not recs or not seed.isdigit():
            continue
        df = pd.DataFrame(recs)
        df.insert(0, "seed", int(seed))
        df.insert(0, "renderer", path.parent.parent.name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None


def read_examples(results_dir: str | Path) -> dict[str, np.ndarray]:
    """The arrays of the ``examples`` stage
    (:func:`bench_softras.experiments.examples.run_examples`), or an empty dict when the
    stage has not run."""
    path = stage_dir(results_dir, "examples") / EXAMPLES_NPZ
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
