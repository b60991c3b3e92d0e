"""Reconstruction's per-renderer sweep: each renderer's learning rate (and sigma, for
soft renderers) chosen on ``val`` objects before the reconstruction runs train.

For every renderer with a gradient that is not a slow reference, the generator trains
a short run (:class:`~bench_softras.settings.ReconTuningConfig` ``steps``, the preset's
:class:`~bench_softras.settings.ReconConfig` otherwise, sigma never decayed) at every
grid point (:func:`.fit_bench.renderer_grid`: ``lr_scales x ReconConfig.lr``, times
``sigmas`` for renderers with a sharpness parameter), and each run is scored by the
mean voxel IoU of its predictions on the first ``val_objects`` objects of each class of
the tuning ``split`` (``val``), each from ``val_views`` evenly spaced views
(:func:`.validation.validate`).  The rule and the slow references' borrowing are
fitting's (:func:`.fit_bench.tune_renderers`, :func:`.fit_bench.choose`): best mean val
voxel IoU, ties to the preset's values; renderers without a gradient keep the preset's
values; slow references take the choice of the renderer their description names
(``tuned_from``).  Only the ``train`` and tuning splits are read: never ``test``.

Each grid point is a training run in ``<out>/tuning/<renderer>/lr<x>_sigma<y>/`` that
resumes from its checkpoint; the sweep is the first unit of the reconstruction sweep, run
first by the harness's sweep runner (:func:`bench_softras.sweep.run_stage_sweep`), which
records its ``recon_tuning`` (:data:`TUNING_COLUMNS`) and ``recon_choices``
(:data:`CHOICE_COLUMNS`) tables in ``unit.json`` and reads them back when it finished
with the same key.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import renderers
from bench_softras import results_schema as schema
from bench_softras.data import MultiViewData, load_split
from bench_softras.errors import ConfigError
from bench_softras.runs import config_hash
from bench_softras.settings import ReconConfig, ReconTuningConfig, with_overrides
from bench_softras.sweep import SweepUnit, Unit

from .fit_bench import renderer_grid, tune_renderers
from .renderer_choice import accepts_sigma
from .resume import drop_checkpoints
from .train import is_distributed, load_generator, train
from .validation import validate

log = logging.getLogger(__name__)

TUNING_COLUMNS = ["renderer", "lr_scale", "lr", "sigma", "split", "val_voxel_iou",
                  "val_silhouette_iou", "val_objects", "val_views", "steps", "wall_s"]
CHOICE_COLUMNS = ["renderer", "lr_scale", "lr", "sigma", "chosen_by", "tuning_val_voxel_iou",
                  "grid_points", "tuning_steps"]
#: The tables of the tuning unit (stem -> what it holds).
TABLES = (schema.RECON_TUNING, schema.RECON_CHOICES)
#: The tuning unit's directory under a reconstruction output directory.
TUNING_DIR = "tuning"


def _point_dir(out: Path, name: str, lr: float, sigma: float) -> Path:
    tag = f"lr{lr:.3g}" + ("" if math.isnan(sigma) else f"_sigma{sigma:.3g}")
    return out / TUNING_DIR / name / tag


def point_config(base: ReconConfig, tuning: ReconTuningConfig, name: str, scale: float,
                 sigma: float, out: Path) -> ReconConfig:
    """The short training run of one grid point: ``base`` for ``tuning.steps`` steps at
    ``scale x base.lr`` and ``sigma`` (soft renderers), sigma never decayed, no
    validation curve, one checkpoint kept."""
    soft = accepts_sigma(name)
    lr = base.lr * scale
    steps = tuning.steps
    return with_overrides(base, renderer=name, lr=lr, sigma=sigma if soft else None,
                          iterations=steps, lr_decay_at=0, val_every=0,
                          checkpoint_every=max(1, steps), checkpoint_minutes=0.0,
                          keep_checkpoints=1, log_every=max(1, steps),
                          out_dir=str(_point_dir(out, name, lr, sigma if soft else math.nan)))


def sweep(name: str, base: ReconConfig, tuning: ReconTuningConfig, train_data: MultiViewData,
          val_data: MultiViewData, out: Path, *, template=None,
          progress: bool = False) -> pd.DataFrame:
    """Train and score every :func:`.fit_bench.renderer_grid` point of ``name``; one row
    per point (:data:`TUNING_COLUMNS`).  Each point's run resumes from its checkpoint."""
    rows = []
    soft = accepts_sigma(name)
    for scale, sigma in renderer_grid(name, base, tuning):
        cfg = point_config(base, tuning, name, scale, sigma, out)
        t0 = time.perf_counter()
        ckpt = train(cfg, train_data, template=template, progress=progress)
        model, _ = load_generator(ckpt, template, cfg.device)
        score = validate(model, val_data, cfg.image_size, tuning.val_views,
                         cfg.eval_batch_size, cfg.device)
        rows.append({"renderer": name, "lr_scale": scale, "lr": cfg.lr,
                     "sigma": sigma if soft else math.nan, "split": tuning.split, **score,
                     "val_objects": len(val_data), "val_views": tuning.val_views,
                     "steps": tuning.steps, "wall_s": round(time.perf_counter() - t0, 3)})
        log.info("reconstruction tuning: %s lr %.3g%s: val voxel IoU %.4f", name, cfg.lr,
                 f" sigma {sigma:.3g}" if soft else "", score["val_voxel_iou"])
    return pd.DataFrame(rows, columns=TUNING_COLUMNS)


def tune(names: Sequence[str], base: ReconConfig, tuning: ReconTuningConfig,
         train_data: MultiViewData | None, val_data: MultiViewData | None, out: Path, *,
         template=None, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(sweep table, choices table)`` for ``names`` (:func:`.fit_bench.tune_renderers`
    with :func:`sweep`, scored by val voxel IoU); the slow references borrow from their
    description's ``tuned_from``.  ``steps`` 0 or no val data: every renderer keeps the
    preset's values."""
    why = ("" if tuning.steps and val_data is not None and train_data is not None else
           "recon_tuning.steps is 0" if not tuning.steps else f"no {tuning.split} data")
    slow = [n for n in names if renderers.describe(n).slow]
    borrowed = {n: renderers.describe(n).tuned_from for n in slow
                if renderers.describe(n).tuned_from}
    frames, choices = tune_renderers(
        names, lambda n: sweep(n, base, tuning, train_data, val_data, out, template=template,
                               progress=progress),
        base, slow, borrowed, score="val_voxel_iou", nothing_to_sweep=why)
    rows = [{**{k: v for k, v in c.items() if k != "score"},
             "tuning_val_voxel_iou": c["score"],
             "tuning_steps": tuning.steps if c["chosen_by"] == "sweep" else 0}
            for c in choices.values()]
    table = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=TUNING_COLUMNS))
    return table, pd.DataFrame(rows, columns=CHOICE_COLUMNS)


def tuning_unit(base: ReconConfig, tuning: ReconTuningConfig, names: Sequence[str],
                data_digest: str) -> Unit:
    """The sweep's unit: its key hashes the portable recon config (no paths), the
    tuning config, the renderers and the data's digest."""
    return Unit("tuning", TUNING_DIR, config_hash(
        {**base.portable_dict(), "tuning": dataclasses.asdict(tuning), "renderers": list(names),
         "data": data_digest}))


def tuning_job(out: Path, unit: Unit, names: Sequence[str], base: ReconConfig,
               tuning: ReconTuningConfig, *, template=None, progress: bool = False
               ) -> SweepUnit:
    """The tuning ``unit`` as the sweep runner runs it first
    (:func:`bench_softras.sweep.run_stage_sweep`, under the unit's lock): read back when it
    finished with the same key, else the sweep runs (:func:`tuning_tables`), the
    runner records its tables, then its short runs' checkpoints are deleted (not under
    torchrun, where another rank may still read one; every rank trains the sweep's runs
    together, rank 0 alone records)."""
    def drop() -> None:
        if not is_distributed():
            _drop_point_checkpoints(out, names, base, tuning)

    return SweepUnit(unit, lambda: tuning_tables(out, names, base, tuning, template=template,
                                                 progress=progress), on_recorded=drop)


def tuning_tables(out: Path, names: Sequence[str], base: ReconConfig,
                  tuning: ReconTuningConfig, *, template=None, progress: bool = False
                  ) -> dict[str, pd.DataFrame]:
    """The tuning unit's computation: the sweep (:func:`tune`, loading only ``train``
    and ``tuning.split``, its runs under ``out``) and its ``recon_tuning`` and
    ``recon_choices`` tables; :class:`ConfigError` when the tuning split is the
    evaluated one."""
    if base.eval_split == tuning.split:
        raise ConfigError(f"recon_tuning.split {tuning.split!r} is the evaluated split "
                          "(recon.eval_split): tuning must never see the objects the runs "
                          "are scored on; set recon_tuning.split=train, or "
                          "recon_tuning.steps=0 to train every renderer at the preset's values")
    train_data = val_data = None
    if tuning.steps:
        train_data = load_split(base.data_dir, "train", base.class_ids, base.max_train_objects)
        val_data = load_split(base.data_dir, tuning.split, base.class_ids, tuning.val_objects)
    table, choices = tune(names, base, tuning, train_data, val_data, out, template=template,
                          progress=progress)
    return {schema.RECON_TUNING: table, schema.RECON_CHOICES: choices}


def _drop_point_checkpoints(out: Path, names: Sequence[str], base: ReconConfig,
                            tuning: ReconTuningConfig) -> None:
    """Once the sweep is recorded its short runs' checkpoints (86 MB each at the ``cpu``
    preset, 14 of them) are not read again: delete them.  A forced re-run of the sweep
    trains its points again (about 2 minutes at the ``cpu`` preset)."""
    dropped = [p for name in names if not renderers.describe(name).slow
               for scale, sigma in renderer_grid(name, base, tuning)
               for p in drop_checkpoints(out, point_config(base, tuning, name, scale, sigma,
                                                           out).out_dir)]
    if dropped:
        log.info("reconstruction tuning recorded: deleted %d checkpoint(s) of its short "
                 "runs", len(dropped))


def chosen_configs(choices: pd.DataFrame, base: ReconConfig) -> dict[str, ReconConfig]:
    """The :class:`ReconConfig` each renderer trains with: ``base`` at its chosen lr and
    sigma."""
    return {row.renderer: with_overrides(base, lr=float(row.lr),
                                         sigma=None if pd.isna(row.sigma) else float(row.sigma))
            for row in choices.itertuples(index=False)}


def output_paths(out_dir: str | Path) -> list[Path]:
    """The combined tables the reconstruction stage writes for the sweep."""
    return [Path(out_dir) / n for s in TABLES for n in (schema.csv_name(s),
                                                         schema.parquet_name(s))]
