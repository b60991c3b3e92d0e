"""Runs and stages: the one owner of a main-job results directory's layout and of its
stage bookkeeping.  The main job (:mod:`bench_softras.main_job`) writes through it, the
experiments-side stages name their files through it, and the report
(:mod:`bench_softras.report`) reads through it, so neither side re-derives a name.

Layout of ``<results-root>/<run-id>/``::

    run.json            the main job's configuration and the stages of the last call
    run.log             log of every call (configuration as JSON first)
    environment.json    versions, CPU/GPU, Taichi arch, threads
                        (bench_softras.environment.collect_environment)
    <stage>/stage.json  per stage: config, its hash, status, wall time, outputs
    data/               data.json (the data set lives in the cache or the given directory)
    fitting/            fitting.csv|parquet (curves), fit_tuning, fit_choices, fit_targets
                        (.csv|parquet: the sweep, each renderer's settings, the targets),
                        meshes/<shape>_<renderer>.obj, units/tuning/ (the sweep's unit),
                        units/<shape>__<renderer>/ (each fit's curve, unit.json)
    <stage>/shards/     per shard of a sharded stage, its plan (bench_softras.shards)
    shards/             per shard of the main job, run_<i>_of_<n>.json and
                        environment_<i>_of_<n>.json instead of run.json / environment.json
    reconstruction/     recon_iou.csv|parquet, recon_iou_summary.csv,
                        recon_per_object.csv|parquet (every object, view, seed),
                        <renderer>/seed_<s>/ (metrics.jsonl, curve.jsonl, checkpoints,
                        the unit's tables and unit.json), template/ (the floor's unit)
    gradients/          gradient_accuracy.csv|parquet, forward_fidelity.csv|parquet
    ablations/          ablations.csv|parquet (mesh-fitting ablations with softras),
                        color_views.npz
    timing/             timing.csv|parquet, timing_skipped.csv, timing_notes.json
    examples/           examples.npz: example silhouettes and meshes (vertices, faces)
                        for the report (bench_softras.experiments.examples)

A stage is resumable: :func:`run_stage` records its configuration, a hash of it, its
wall time and outputs (relative to the run directory) in ``<stage>/stage.json`` when it
finishes; :func:`stage_done` finds it later and the stage is skipped.  A stage's
configuration holds the content fingerprints of the inputs it reads (the data's,
:func:`bench_softras.data.data_fingerprint`; mesh files' SHA-256), so an input changed
in place gives another hash and the stage runs again.

This module imports neither torch nor the renderers: the report imports it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from .atomic import write_json
from .results_schema import DATA_JSON, EXAMPLES_NPZ, stage_names  # noqa: F401 (re-exported)
from .safe_paths import contained

log = logging.getLogger("bench_softras.runs")

#: The main job's built-in stages, in the order they run (the results schema's,
#: :data:`bench_softras.results_schema.SCHEMA`; a registered stage is added there).
STAGES = stage_names()
RUN_JSON = "run.json"
RUN_LOG = "run.log"
ENV_JSON = "environment.json"
#: The self-description of every renderer a run uses (the report's families table).
RENDERERS_JSON = "renderers.json"
STAGE_JSON = "stage.json"
#: Per reconstruction run: the validation curve and the training log (JSON lines).
CURVE_FILE = "curve.jsonl"
METRICS_FILE = "metrics.jsonl"
#: Reconstruction runs live in ``<renderer>/seed_<s>/`` (:func:`recon_run_dir`).
SEED_PREFIX = "seed_"
RECON_RUNS_GLOB = f"*/{SEED_PREFIX}*"


def stage_dir(results_dir: str | Path, stage: str) -> Path:
    """``results_dir / stage`` (``ValueError`` for a stage not in the results schema)."""
    if stage not in stage_names():
        raise ValueError(f"unknown stage {stage!r}; stages: {stage_names()}")
    return Path(results_dir) / stage


def recon_run_dir(recon_dir: str | Path, renderer: str, seed: int) -> Path:
    """The training run of ``renderer`` and ``seed`` under a reconstruction output
    directory (``<recon_dir>/<renderer>/seed_<seed>``)."""
    return Path(recon_dir) / renderer / f"{SEED_PREFIX}{int(seed)}"


def read_json(path: str | Path) -> dict | None:
    """A JSON file's content, or ``None`` when it is absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_stage_record(results_dir: str | Path, stage: str) -> dict | None:
    """``<stage>/stage.json`` or ``None`` (absent, unreadable, or not a JSON object: the
    stage then counts as not finished and runs again); one that resolves outside
    ``results_dir`` (a symlink pointing out) is refused
    (:func:`~bench_softras.safe_paths.contained`)."""
    rec = read_json(contained(stage_dir(results_dir, stage).parent, Path(stage, STAGE_JSON)))
    return rec if isinstance(rec, dict) else None


def config_hash(config: dict) -> str:
    """16 hex digits of the SHA-256 of ``config`` as sorted JSON (``default=str``)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stage_done(results_dir: Path, stage: str, config: dict) -> bool:
    """Whether ``stage`` finished with this ``config`` and its outputs still exist and
    are not empty (a missing or zero-byte output is logged and the stage runs again)."""
    rec = read_stage_record(results_dir, stage)
    if not rec or rec.get("status") != "done" or rec.get("config_hash") != config_hash(config):
        return False
    source = stage_dir(results_dir, stage) / STAGE_JSON
    for p in rec.get("outputs", []):
        path = contained(results_dir, p, source)
        if not path.is_file() or path.stat().st_size == 0:
            log.warning("stage %s: output %s is missing or empty; running the stage again",
                        stage, path)
            return False
    return True


def write_stage_record(results_dir: Path, stage: str, config: dict, wall_s: float,
                       outputs: list[Path]) -> dict:
    """Write ``<stage>/stage.json`` (status ``done``; ``outputs`` stored relative to
    ``results_dir``) and return the record."""
    results_dir = Path(results_dir)
    rec = {"stage": stage, "status": "done", "config": config,
           "config_hash": config_hash(config), "wall_s": round(wall_s, 2),
           "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "outputs": [str(Path(p).relative_to(results_dir)) for p in outputs]}
    write_json(stage_dir(results_dir, stage) / STAGE_JSON, rec)
    return rec


def run_stage(results_dir: Path, stage: str, config: dict,
              fn: Callable[[Path], list[Path]], force: bool = False, *,
              record: bool = True, label: str = "") -> tuple[str, dict]:
    """Run ``fn(stage_dir)`` unless :func:`stage_done`; records ``stage.json``.

    ``fn`` returns the output paths the stage must leave behind.  Returns
    ``("ran" | "skipped", stage record)``.  ``record=False`` (a shard's part of a sharded
    stage, :mod:`bench_softras.shards`): the stage runs, a ``stage.json`` left by an
    earlier call is still removed, but none is written (the record is ``{}``);
    ``label`` is added to the log lines (e.g. ``, shard 1/2``).
    """
    d = stage_dir(results_dir, stage)
    contained(results_dir, stage)  # its outputs stay in the run directory (no symlink out)
    if not force and stage_done(results_dir, stage, config):
        log.info("stage %s: finished earlier with the same configuration, skipped", stage)
        return "skipped", read_stage_record(results_dir, stage)
    d.mkdir(parents=True, exist_ok=True)
    (d / STAGE_JSON).unlink(missing_ok=True)
    log.info("stage %s%s: running (config hash %s)", stage, label, config_hash(config))
    t0 = time.perf_counter()
    outputs = fn(d)
    wall = time.perf_counter() - t0
    rec = write_stage_record(results_dir, stage, config, wall, outputs) if record else {}
    log.info("stage %s%s: done in %.1f s", stage, label, wall)
    return "ran", rec
