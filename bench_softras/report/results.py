"""The report's readers of a main-job results directory (``results/<run-id>/``, layout
and names in :mod:`bench_softras.runs`): tables, training logs, example arrays.

Every file is read only when it lies inside the run directory once symlinks are
resolved (:func:`bench_softras.safe_paths.contained`): a results directory from
elsewhere cannot make the report read another file of this machine.

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
    RUN_JSON,
    SEED_PREFIX,
    read_json,
    read_stage_record,
    stage_dir,
)
from bench_softras.safe_paths import check_run_id, contained
from bench_softras.shards import PLANS_DIR, SHARDED_STAGES, merge_units, merged_run_record

#: (stage, stem) of every table a report reads.
TABLES = {
    "fitting": ("fitting", "fitting"),
    "fit_choices": ("fitting", "fit_choices"),
    "fit_tuning": ("fitting", "fit_tuning"),
    "fit_targets": ("fitting", "fit_targets"),
    "recon": ("reconstruction", "recon_iou"),
    "gradient_accuracy": ("gradients", "gradient_accuracy"),
    "forward_fidelity": ("gradients", "forward_fidelity"),
    "ablations": ("ablations", "ablations"),
    "timing": ("timing", "timing"),
    "recon_per_object": ("reconstruction", "recon_per_object"),
}


def read_run_record(results_dir: str | Path) -> dict | None:
    """The run's ``run.json``, else the newest shard's run record
    (:func:`~bench_softras.shards.merged_run_record`), else ``None``."""
    return read_json(run_file(results_dir, RUN_JSON)) or merged_run_record(results_dir)


def run_id_of(results_dir: str | Path, run: dict | None) -> str:
    """The run id of the run record ``run`` (:func:`read_run_record`), else the name of
    ``results_dir``; either must be one safe folder name
    (:func:`~bench_softras.safe_paths.check_run_id`: ``UnsafePathError`` naming the
    file it came from), since it names the report's folder."""
    recorded = (run or {}).get("run_id")
    if recorded:
        has_json = run_file(results_dir, RUN_JSON).is_file()
        return check_run_id(recorded, Path(results_dir) / (RUN_JSON if has_json else
                                                           f"{PLANS_DIR}/run_*.json"))
    return check_run_id(Path(results_dir).resolve().name, results_dir)


def read_table(results_dir: str | Path, key: str) -> pd.DataFrame | None:
    """Table ``key`` of :data:`TABLES` (Parquet, else CSV), or ``None`` when absent.
    ``class_id`` columns are read as strings."""
    stage, stem = TABLES[key]
    d = stage_dir(results_dir, stage)
    parquet, csv = (run_file(results_dir, d / f"{stem}{ext}") for ext in (".parquet", ".csv"))
    if _merged(results_dir, stage):
        df = merge_units(run_file(results_dir, d), stem)[0]
        if df is None:
            return None
    elif parquet.is_file():
        df = pd.read_parquet(parquet)
    elif csv.is_file():
        df = pd.read_csv(csv, dtype={"class_id": str})
    else:
        return None
    if "class_id" in df.columns:
        df["class_id"] = df["class_id"].astype(str)
    return df


def run_file(results_dir: str | Path, path: str | Path) -> Path:
    """``path`` (relative to ``results_dir``, or a path under it as globbed there)
    resolved, when it stays inside the run directory; else
    :class:`~bench_softras.safe_paths.UnsafePathError` naming it.  The report reads
    every file of a run directory through here."""
    path = Path(path)
    if path.is_relative_to(results_dir):
        path = path.relative_to(results_dir)
    return contained(results_dir, path)


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
        recs = read_records(run_file(results_dir, path))
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
    path = run_file(results_dir, stage_dir(results_dir, "examples") / EXAMPLES_NPZ)
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
