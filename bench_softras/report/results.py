"""Layout of a main-job results directory (``results/<run-id>/``) and its readers.

::

    run.json            the main job's configuration and the stages of the last call
    run.log             log of every call (configuration as JSON first)
    environment.json    versions, CPU/GPU, Taichi arch (collect_environment)
    <stage>/stage.json  per stage: config, its hash, status, wall time, outputs
    data/               (the data set lives in the cache or the given directory)
    fitting/            fitting.csv|parquet, meshes/<shape>_<renderer>.obj
    reconstruction/     recon_iou.csv|parquet, recon_iou_summary.csv,
                        recon_per_object.csv|parquet (every object, view, seed),
                        <renderer>/seed_<s>/ (metrics.jsonl, curve.jsonl, checkpoints)
    gradients/          gradient_accuracy.csv|parquet, forward_fidelity.csv|parquet
    ablations/          ablations.csv|parquet (mesh-fitting ablations with softras)
    timing/             timing.csv|parquet, timing_skipped.csv, timing_notes.json
    examples/           examples.npz
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

#: The main job's stages, in the order they run.
STAGES = ("data", "fitting", "reconstruction", "gradients", "ablations", "timing",
          "examples")
RUN_JSON = "run.json"
RUN_LOG = "run.log"
ENV_JSON = "environment.json"
STAGE_JSON = "stage.json"
#: (stage, stem) of every table a report reads.
TABLES = {
    "fitting": ("fitting", "fitting"),
    "recon": ("reconstruction", "recon_iou"),
    "gradient_accuracy": ("gradients", "gradient_accuracy"),
    "forward_fidelity": ("gradients", "forward_fidelity"),
    "ablations": ("ablations", "ablations"),
    "timing": ("timing", "timing"),
    "recon_per_object": ("reconstruction", "recon_per_object"),
}


def stage_dir(results_dir: str | Path, stage: str) -> Path:
    """``results_dir / stage`` (``ValueError`` for unknown stages)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {STAGES}")
    return Path(results_dir) / stage


def read_json(path: str | Path) -> dict | None:
    """A JSON file's content, or ``None`` when it is absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_stage_record(results_dir: str | Path, stage: str) -> dict | None:
    """``<stage>/stage.json`` or ``None``."""
    return read_json(stage_dir(results_dir, stage) / STAGE_JSON)


def read_table(results_dir: str | Path, key: str) -> pd.DataFrame | None:
    """Table ``key`` of :data:`TABLES` (Parquet, else CSV), or ``None`` when absent.
    ``class_id`` columns are read as strings."""
    stage, stem = TABLES[key]
    d = stage_dir(results_dir, stage)
    if (d / f"{stem}.parquet").is_file():
        df = pd.read_parquet(d / f"{stem}.parquet")
    elif (d / f"{stem}.csv").is_file():
        df = pd.read_csv(d / f"{stem}.csv", dtype={"class_id": str})
    else:
        return None
    if "class_id" in df.columns:
        df["class_id"] = df["class_id"].astype(str)
    return df


def _jsonl(path: Path) -> list[dict]:
    """The JSON objects of a ``.jsonl`` file (unreadable lines skipped)."""
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def read_run_logs(results_dir: str | Path, name: str) -> pd.DataFrame | None:
    """Every reconstruction run's ``name`` file (``curve.jsonl``: validation curve;
    ``metrics.jsonl``: training loss per log step) as one table with ``renderer`` and
    ``seed`` columns (from ``reconstruction/<renderer>/seed_<s>/``), or ``None`` when
    no run has one."""
    frames = []
    for path in sorted(stage_dir(results_dir, "reconstruction").glob(f"*/seed_*/{name}")):
        recs = _jsonl(path)
        seed = path.parent.name.removeprefix("seed_")
        if not recs or not seed.isdigit():
            continue
        df = pd.DataFrame(recs)
        df.insert(0, "seed", int(seed))
        df.insert(0, "renderer", path.parent.parent.name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None
