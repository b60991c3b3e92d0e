"""Evaluate trained generators as the official SoftRas evaluation does (Table 1).

For every object of the evaluated split and every one of its 24 views, the generator
predicts a mesh from that single image; the mesh is voxelized on the benchmark grid
(:func:`metrics.voxelize`) and compared with the ground-truth voxels
(:func:`metrics.voxel_iou`).  A category's score is the mean over its objects and
views.  The undeformed template (the decoder's output for zero deformation) gives a
floor row with ``renderer = "template"``.

Results are tidy pandas tables with columns ``renderer, class_id, category, seed,
voxel_iou, n_objects, preset`` (plus ``iterations``, ``train_wall_s`` from
:func:`run_reconstruction`); :func:`summary_table` pivots them to the paper's layout.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import metrics
from bench_softras import atomic
from bench_softras import results_schema as schema
from bench_softras.data import MultiViewData, category_name, data_fingerprint, load_split
from bench_softras.data.checks import check_eval_resolution
from bench_softras.errors import ConfigError
from bench_softras.runs import config_hash, recon_run_dir
from bench_softras.settings import (
    CPU,
    Preset,
    ReconConfig,
    ReconTuningConfig,
    require_preset,
    with_overrides,
)
from bench_softras.sweep import Shard, StageSweep, SweepUnit, Unit, run_stage_sweep
from renderers import names as renderer_names

from . import recon_tuning
from .eval_cache import read_cached_evaluation, read_cached_per_object
from .model import Decoder, MeshGenerator, default_template
from .multiview import NUM_VIEWS
from .per_object import PER_OBJECT_STEM, PER_OBJECT_SUFFIX, per_object_table
from .resume import UNIT_LOCK_DIR
from .train import load_generator, setup_distributed, train
from .validation import validation_subset

COLUMNS = ["renderer", "class_id", "category", "seed", "voxel_iou", "n_objects", "preset"]


@torch.no_grad()
def predict(model: MeshGenerator, data: MultiViewData, objects: np.ndarray, views: np.ndarray,
            image_size: int, batch_size: int = 96, device="cpu") -> np.ndarray:
    """Predicted vertices float32 ``[n, V, 3]`` (world units) for the images of
    ``objects[k]`` at ``views[k]``; the model runs in eval mode."""
    model.eval()
    out = []
    for s in range(0, len(objects), batch_size):
        img = data.images_at(objects[s:s + batch_size], views[s:s + batch_size], image_size,
                             device)
        out.append(model(img).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.decoder.num_vertices, 3),
                                                    np.float32)


def per_object_iou(model: MeshGenerator, data: MultiViewData, image_size: int,
                   views: Sequence[int] = range(NUM_VIEWS), batch_size: int = 96,
                   device="cpu", progress: bool = False) -> np.ndarray:
    """Voxel IoU float64 ``[N, len(views)]``: object ``n`` predicted from view ``k``."""
    views = np.asarray(list(views), dtype=np.int64)
    faces = model.faces.cpu().numpy()
    n = len(data)
    ious = np.zeros((n, views.size))
    chunk = max(1, batch_size // views.size)
    for s in tqdm(range(0, n, chunk), desc="evaluate", disable=not progress,
                  dynamic_ncols=True):
        objs = np.arange(s, min(n, s + chunk))
        o = np.repeat(objs, views.size)
        v = np.tile(views, objs.size)
        verts = predict(model, data, o, v, image_size, batch_size, device)
        vox = metrics.voxelize_prediction(verts, faces)
        gt = data.voxels[o]
        ious[objs] = np.asarray(metrics.voxel_iou(vox, gt)).reshape(objs.size, views.size)
    return ious


def _class_rows(ious: np.ndarray, data: MultiViewData, renderer: str, seed, preset: str):
    rows = []
    for cid in data.classes:
        idx = data.indices_of(cid)
        rows.append({"renderer": renderer, "class_id": cid, "category": category_name(cid),
                     "seed": seed, "voxel_iou": float(ious[idx].mean()),
                     "n_objects": int(idx.size), "preset": preset})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["seed"] = df["seed"].astype("Int64")
    return df


def evaluate(model: MeshGenerator | str | Path, data: MultiViewData, *,
             renderer: str | None = None, seed: int | None = None, preset: str | None = None,
             views: Sequence[int] = range(NUM_VIEWS), batch_size: int = 96, template=None,
             device="cpu", progress: bool = False, per_object: bool = False):
    """Per-category voxel IoU of a generator (or a checkpoint path) on ``data``.

    ``renderer``, ``seed``, ``preset`` label the rows (read from the checkpoint's config
    when a path is given and they are ``None``).  Returns the tidy table
    (:data:`COLUMNS`), one row per class; with ``per_object`` the pair ``(that table,
    the per-object table of`` :func:`bench_softras.experiments.per_object.per_object_table`
    ``)``.
    """
    image_size = None
    if isinstance(model, (str, Path)):
        model, config = load_generator(model, template, device)
        renderer = config.renderer if renderer is None else renderer
        seed = config.seed if seed is None else seed
        preset = config.preset if preset is None else preset
        image_size = config.image_size
    if image_size is None:
        image_size = model.encoder.image_size
    ious = per_object_iou(model, data, image_size, views, batch_size, device, progress)
    rows = _class_rows(ious, data, renderer or "unknown", seed, preset or "custom")
    if not per_object:
        return rows
    return rows, per_object_table(ious, data, views, renderer or "unknown", seed,
                                  preset or "custom")


def template_floor(data: MultiViewData, config: ReconConfig | None = None, template=None,
                   preset: str | None = None) -> pd.DataFrame:
    """The floor rows: IoU of the undeformed template (as the decoder of ``config``
    outputs it) against every object's voxels, ``renderer = "template"``, no seed."""
    config = config or ReconConfig()
    tv, tf = template if template is not None else default_template()
    dec = Decoder(config.model, torch.as_tensor(tv), torch.as_tensor(tf))
    with torch.no_grad():
        v = dec.undeformed_vertices().numpy()
    vox = metrics.voxelize_prediction(v, dec.faces.numpy())
    ious = np.asarray(metrics.voxel_iou(np.broadcast_to(vox, data.voxels.shape), data.voxels))
    return _class_rows(ious[:, None], data, "template", None, preset or config.preset)


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Wide table as in the paper: one row per renderer (mean over seeds), one column
    per category plus ``mean`` (the mean over categories)."""
    wide = df.pivot_table(index="renderer", columns="category", values="voxel_iou",
                          aggfunc="mean")
    wide["mean"] = wide.mean(axis=1)
    known = ["template", *renderer_names(absent=True)]  # the display order
    order = [r for r in known if r in wide.index]
    order += sorted(set(wide.index) - set(order))
    return wide.loc[order]


def write_table(df: pd.DataFrame, out_dir: str | Path, stem: str = schema.RECON_IOU
                ) -> list[Path]:
    """Write the tidy table as CSV and Parquet and the summary as CSV; returns paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / schema.csv_name(stem), out / schema.parquet_name(stem),
             out / schema.csv_name(schema.summary_stem(stem))]
    atomic.write_table(df, paths[0])
    atomic.write_table(df, paths[1])
    atomic.write_table(summary_table(df), paths[2], index=True)
    return paths


def run_reconstruction(preset: Preset = CPU, renderers: Sequence[str] | None = None,
                       data_dir: str | Path = "", out_dir: str | Path = "results/recon",
                       seeds: Sequence[int] | None = None, *, config: ReconConfig | None = None,
                       tuning: ReconTuningConfig | None = None, template=None,
                       progress: bool = True, force: bool = False,
                       shard: Shard | None = None) -> pd.DataFrame:
    """Train and evaluate the generator with each renderer and seed, plus the template
    floor; writes ``recon_iou.csv`` / ``.parquet`` / ``_summary.csv`` to ``out_dir``.

    ``preset``: a resolved :class:`~bench_softras.settings.Preset` (its ``recon``
    config, renderers and seeds are the defaults); ``config`` replaces the preset's recon
    config and ``tuning`` its ``recon_tuning``.  First each renderer's learning rate and
    sigma are chosen by a short sweep scored on ``val`` objects (:mod:`.recon_tuning`, one
    unit in ``out_dir/tuning``; never the test split); every run trains at its renderer's
    choice.  The tables ``recon_tuning`` and ``recon_choices`` (CSV and Parquet) go to
    ``out_dir``.  Each run lives in
    ``out_dir/<renderer>/seed_<s>`` and resumes from its checkpoints when re-run; an
    evaluation already done for the final checkpoint is read back when whole
    (:mod:`.eval_cache`; ``force``: always evaluate again).  ``data_dir`` (else
    ``config.data_dir``): the data set, found or built by the caller
    (:func:`bench_softras.commands.options.resolve_data_dir`).
    Under ``torchrun`` training is data-parallel and rank 0 alone evaluates.

    Units (:func:`reconstruction_sweep`, run by the harness's sweep runner,
    :func:`bench_softras.sweep.run_stage_sweep`): the tuning sweep (run first, in the first
    shard that needs it, the others wait for its lock), the template floor
    (``out_dir/template``), then renderer x seed (each unit's tables and ``unit.json`` in
    its own directory under that directory's lock; every unit of the slice runs, a
    training run resuming from its checkpoints); the runner writes the combined tables
    (:func:`combined_tables`).  ``shard``: run only that slice of the units, and write no
    combined table (merge: call again without ``shard``, or the report); returns the
    slice's rows.
    """
    p = require_preset(preset, "run_reconstruction")
    base = _with_data_dir(config or p.recon, data_dir)
    test_data = load_split(base.data_dir, base.eval_split, base.class_ids,
                           base.max_test_objects)
    check_eval_resolution(test_data.voxels.shape[-1], base.data_dir, test_data.classes[0],
                          base.eval_split)  # before any training
    is_main = setup_distributed(base.device).is_main
    jobs = _UnitJobs(Path(out_dir), base, test_data, template, progress, force, is_main)
    done = run_stage_sweep(out_dir, reconstruction_sweep(
        jobs, tuning or p.recon_tuning, tuple(renderers or p.renderers),
        tuple(p.seeds if seeds is None else seeds)), shard, record=is_main)
    frames = [t[schema.RECON_IOU] for t in done]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def reconstruction_sweep(jobs: _UnitJobs, tuning: ReconTuningConfig,
                         renderers: Sequence[str], seeds: Sequence[int]) -> StageSweep:
    """The reconstruction stage's sweep (:class:`bench_softras.sweep.StageSweep`): the
    tuning unit first (:mod:`.recon_tuning`), then, from its choices, the template floor
    and renderer x seed (:func:`recon_units`, each trained at its renderer's choice);
    the tuning tables merged and the :func:`combined_tables` combined.  Every unit of a
    slice runs (``reuse=False``): a training run resumes from its checkpoints."""
    base, out = jobs.base, jobs.out
    data_key = data_fingerprint(base.data_dir)
    unit = recon_tuning.tuning_unit(base, tuning, renderers, data_key)
    runs = [None, *((r, s) for r in renderers for s in seeds)]

    def main(first: dict[str, pd.DataFrame]) -> list[SweepUnit]:
        configs = recon_tuning.chosen_configs(first[schema.RECON_CHOICES], base)
        units = recon_units(base, renderers, seeds,
                            f"{_selection_digest(jobs.test_data)}:{data_key}", configs)
        return [SweepUnit(u, jobs.job(run, configs)) for u, run in zip(units, runs, strict=True)]

    first = recon_tuning.tuning_job(out, unit, renderers, base, tuning,
                                    template=jobs.template, progress=jobs.progress)
    return StageSweep("reconstruction", main, first=[first],
                      options=recon_options(base, renderers, seeds, data_key),
                      merge=recon_tuning.TABLES, combine=combined_tables, reuse=False,
                      lock_subdir=UNIT_LOCK_DIR)


def combined_tables(merged: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The reconstruction stage's combined tables from its units' (each stem
    concatenated in the sweep's order): ``recon_iou`` (:data:`COLUMNS`), its summary
    (:func:`summary_table`, ``renderer`` as a column) and ``recon_per_object`` when a
    unit has it; the sweep runner writes them (the tuning tables are merged by it)."""
    iou = merged.get(schema.RECON_IOU, pd.DataFrame(columns=COLUMNS))
    tables = {schema.RECON_IOU: iou,
              schema.summary_stem(schema.RECON_IOU): summary_table(iou).reset_index()}
    if PER_OBJECT_STEM in merged:
        tables[PER_OBJECT_STEM] = merged[PER_OBJECT_STEM]
    return tables


@dataclasses.dataclass
class _UnitJobs:
    """What the reconstruction units compute with: the stage directory ``out``, the
    ``base`` settings, the test data and the run options; the training and validation
    data are loaded once, by the first training unit that runs (``loaded``)."""

    out: Path
    base: ReconConfig
    test_data: MultiViewData
    template: object
    progress: bool
    force: bool
    is_main: bool
    loaded: dict = dataclasses.field(default_factory=dict)

    def job(self, run: tuple[str, int] | None, configs: dict[str, ReconConfig]) -> Callable:
        """The unit computation of ``run`` (``(renderer, seed)``, trained with
        ``configs[renderer]``; ``None``: the template floor, rank 0 only): its tables
        ``{recon_iou, recon_per_object}``, ``None`` on a non-zero torchrun rank."""
        def unit() -> dict[str, pd.DataFrame] | None:
            base = self.base
            if run is None:
                return ({schema.RECON_IOU: template_floor(self.test_data, base, self.template,
                                                          base.preset)}
                        if self.is_main else None)
            if not self.loaded:
                self.loaded["train"] = load_split(base.data_dir, "train", base.class_ids,
                                                  base.max_train_objects)
                self.loaded["val"] = validation_subset(base)
            cfg = dataclasses.replace(configs[run[0]], renderer=run[0], seed=run[1],
                                      out_dir=str(recon_run_dir(self.out, *run)))
            got = _train_and_evaluate(cfg, self.loaded["train"], self.loaded["val"],
                                      self.test_data, self.template, self.progress, self.force)
            return None if got is None else {schema.RECON_IOU: got[0], PER_OBJECT_STEM: got[1]}
        return unit


def _with_data_dir(base: ReconConfig, data_dir: str | Path) -> ReconConfig:
    """``base`` with its ``data_dir`` set to ``data_dir`` (else its own);
    :class:`~bench_softras.errors.ConfigError` when neither names the data set."""
    data_dir = data_dir or base.data_dir
    if not data_dir:
        raise ConfigError("run_reconstruction needs the data set's directory (data_dir or "
                          "config.data_dir)")
    return with_overrides(base, data_dir=str(data_dir))


def recon_units(base: ReconConfig, renderers: Sequence[str], seeds: Sequence[int],
                test_digest: str, configs: dict[str, ReconConfig] | None = None
                ) -> list[Unit]:
    """The units of a reconstruction sweep, in order: ``template``, then each renderer
    x seed (trained with ``configs[renderer]``, default ``base``: its tuned learning
    rate and sigma).  A unit's key hashes its configuration without the machine's paths
    (``out_dir``, ``data_dir``) but with ``test_digest`` (the test set's digest and the
    data's fingerprint, by content), so shards on machines that mount the data elsewhere
    still agree, and data replaced in place runs the units again."""
    units = [Unit("template", TEMPLATE_DIR,
                         config_hash({**base.portable_dict(), "unit": "template",
                                      "test": test_digest}))]
    for name in renderers:
        portable = (configs or {}).get(name, base).portable_dict()
        for seed in seeds:
            d = recon_run_dir(".", name, seed)
            units.append(Unit(f"{name} seed {seed}", d.as_posix(),
                                     config_hash({**portable, "renderer": name, "seed": seed,
                                                  "test": test_digest})))
    return units


def recon_options(base: ReconConfig, renderers: Sequence[str], seeds: Sequence[int],
                  data_key: str) -> dict:
    """What a reconstruction sweep's shards must agree on (recorded in each shard's
    plan, :func:`bench_softras.sweep.run_sweep`): renderers, seeds, the settings
    without paths and the data's fingerprint."""
    return {"renderers": list(renderers), "seeds": [int(s) for s in seeds],
            "recon": base.portable_dict(), "data": data_key}


#: The template floor's unit directory under a reconstruction output directory.
TEMPLATE_DIR = "template"


def _train_and_evaluate(cfg: ReconConfig, train_data, val_data, test_data, template,
                        progress: bool, force: bool
                        ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Train (or resume) one run and evaluate its last checkpoint (read back from the
    evaluation cache when done); ``None`` on a non-zero torchrun rank."""
    t0 = time.perf_counter()
    ckpt = train(cfg, train_data, template=template, progress=progress, val_data=val_data)
    wall = time.perf_counter() - t0
    if not setup_distributed(cfg.device).is_main:
        return None
    cached = Path(cfg.out_dir) / (f"eval_{cfg.eval_split}_{Path(ckpt).stem}_"
                                  f"{metrics.PREDICTION_RULE}_"
                                  f"{_selection_digest(test_data)}.csv")
    cached_objects = cached.with_name(cached.stem + PER_OBJECT_SUFFIX)
    df = read_cached_evaluation(cached, test_data.classes, COLUMNS, force)
    per = None if df is None else read_cached_per_object(cached_objects)
    if per is None:
        df, per = evaluate(ckpt, test_data, template=template,
                           batch_size=cfg.eval_batch_size, device=cfg.device,
                           progress=progress, per_object=True)
        df["iterations"] = cfg.iterations
        df["train_wall_s"] = round(wall, 2)
        atomic.write_table(per, cached_objects)
        atomic.write_table(df, cached)
    return df, per


def _selection_digest(data: MultiViewData) -> str:
    """Short hash of the objects an evaluation covers, by content (class ids, images and
    voxels: :meth:`~bench_softras.data.MultiViewData.fingerprint`), so a cached
    evaluation is reused only for the same test set."""
    return data.fingerprint()[:10]
