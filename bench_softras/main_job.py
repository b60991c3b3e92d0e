"""The main job (``softras-bench report``, ``nox -s report``): every experiment of the
suite on one data set, then the report.

Stages (:data:`bench_softras.runs.STAGES`), each writing its tables under
``results/<run-id>/<stage>/`` (layout: :mod:`bench_softras.runs`):

1. ``data``: the built-in synthetic data set of the preset's size (built once, cached,
   :func:`bench_softras.data.build_synthetic`) or a directory of benchmark files
   (e.g. the ShapeNet renderings of N3MR / SoftRas);
2. ``fitting``: the fitting benchmark over the data set's test objects, each renderer
   tuned on its val objects first
   (:func:`bench_softras.experiments.fit_bench.run_fit_benchmark`; redone when the data
   set's files change, :func:`bench_softras.data.data_fingerprint`);
3. ``reconstruction``: training and evaluation of the generator per renderer and seed
   (:func:`bench_softras.experiments.evaluate.run_reconstruction`; resumes from its
   checkpoints);
4. ``gradients``: gradient accuracy and forward fidelity vs sigma
   (:func:`bench_softras.studies.gradients.run_gradient_study`);
5. ``ablations``: the paper's ablations (sigma sweep, no Laplacian, no flattening,
   fewer or more training views, colour reconstruction) as mesh fits of one mesh target
   (the preset's ``ablations.shape``, or the first ``--fit-shapes``) with ``softras``
   (:func:`bench_softras.experiments.fitting.run_ablations`);
6. ``timing``: :func:`bench_softras.studies.timing.run_timing_study`;
7. ``examples``: example silhouettes and meshes for the report
   (:func:`bench_softras.experiments.examples.run_examples`);

then :func:`bench_softras.report.build_report` writes ``reports/<run-id>/`` from the
saved results only.

Resumable: a stage records its configuration, a hash of it, its wall time and outputs in
``stage.json`` when it finishes (:func:`bench_softras.runs.run_stage`); a later call with
the same configuration finds it and skips the stage (``force`` re-runs every selected
stage).  ``run.json`` holds the job's
configuration and what the last call did, ``run.log`` logs every call (configuration
as JSON first), ``environment.json`` the machine and versions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import renderers
from renderers import threads

from . import data as datasets
from . import shards
from .atomic import write_json
from .data import class_id_of, data_fingerprint
from .data.cache_check import verify_manifest
from .data.checks import check_data_dir
from .environment import collect_environment
from .errors import ConfigError, UserError, check_device, check_writable_dir
from .experiments import evaluate, examples, fit_bench, fitting, recon_tuning
from .experiments.renderer_choice import ensure_registered, make_renderer
from .job_progress import (
    HEARTBEAT_S,
    UNIT_SECONDS,
    JobProgress,
    planned_units,
    progress_default,
)
from .report import build as report_build  # selects matplotlib's Agg backend
from .report import summary as report_summary
from .runlock import run_lock
from .runs import (
    DATA_JSON,
    ENV_JSON,
    RENDERERS_JSON,
    RUN_JSON,
    RUN_LOG,
    STAGES,
    read_json,
    run_stage,
    stage_dir,
    stage_done,
)
from .safe_paths import check_run_id, user_path
from .settings import (
    ALL_RENDERERS,
    STUDY_EXCLUDED,
    AblationConfig,
    ExamplesConfig,
    FitConfig,
    GradientConfig,
    Preset,
    ReconConfig,
    TimingConfig,
    apply_settings,
    generator_label,
    get_preset,
    with_overrides,
)
from .shards import Shard
from .studies import gradients as gradient_study
from .studies import timing as timing_study

log = logging.getLogger("bench_softras.main_job")


class MainJobError(UserError):
    """A problem with the main job's configuration or inputs (bad preset, renderer,
    category, stage or data directory); the message says what to change."""


@dataclass(frozen=True)
class MainJobConfig:
    """What the main job runs.

    ``preset``: ``smoke``, ``cpu`` (default), ``gpu`` or ``paper``
    (:mod:`bench_softras.settings`); ``renderers``: registered names (empty: the preset's:
    every registered renderer but the slow references); ``categories``: ShapeNet class ids
    or names (empty: every category of the data); ``data_dir``: a directory of benchmark
    files (``{class_id}_{split}_images.npz`` / ``_voxels.npz``, e.g. the ShapeNet
    renderings); empty: the built-in synthetic data set; ``device``: ``cpu`` or ``cuda``
    (training, timing); ``run_id``: name of the run (default: the preset's name);
    ``results_root`` / ``reports_root``: parents of ``<run-id>``; ``stages``: the stages to
    run (the report is always rebuilt from whatever results exist); ``fit_shapes``: mesh
    targets fitted besides the data set's objects (empty: the preset's; the first is also
    the ablations' target); ``seeds``: reconstruction seeds (empty: the preset's);
    ``force``: re-run selected stages even when finished (fitting refits every unit of its
    slice; reconstruction evaluates again and keeps its checkpoints); ``progress``: tqdm
    bars (default: only when stderr is a terminal; with them off, a progress line every
    minute instead); ``wait``: when another job holds the run directory's lock
    (:mod:`bench_softras.runlock`), wait for it instead of failing; ``shard``: run only
    that slice of the sweep into the shared run directory (:mod:`bench_softras.shards`:
    fitting and reconstruction units round-robin, the single-unit stages in shard 1,
    ``examples`` and the report only unsharded); merge
    with ``softras-bench report --from-results DIR`` or a call without ``shard``;
    ``settings``: overrides of the preset's fields, ``SECTION.FIELD=VALUE`` each
    (``fit.steps=50``, ``timing.repeats=3``, ``recon.sigma=<value>``;
    :func:`bench_softras.settings.apply_settings`), applied in order; the fields the options
    above own (:data:`JOB_OWNED`) are refused.
    """

    preset: str = "cpu"
    renderers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    data_dir: str = ""
    device: str = "cpu"
    run_id: str = ""
    results_root: str = "results"
    reports_root: str = "reports"
    stages: tuple[str, ...] = STAGES
    fit_shapes: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    force: bool = False
    progress: bool = field(default_factory=progress_default)
    wait: bool = False
    settings: tuple[str, ...] = ()
    shard: Shard | None = None

    def __post_init__(self) -> None:
        """Refuse an unsafe ``run_id`` (:func:`~bench_softras.safe_paths.check_run_id`:
        ``ValueError``, one line) and expand ``~`` in the path fields, once, so that
        every check and every write uses the same folder."""
        if self.run_id:
            check_run_id(self.run_id)
        for name in ("results_root", "reports_root", "data_dir"):
            object.__setattr__(self, name, user_path(getattr(self, name)))

    @property
    def name(self) -> str:
        """The run id (``run_id`` or the preset name)."""
        return self.run_id or self.preset

    @property
    def results_dir(self) -> Path:
        return Path(self.results_root) / self.name

    @property
    def report_dir(self) -> Path:
        return Path(self.reports_root) / self.name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: Preset fields that a main-job option sets (``--set`` refuses them, naming the option).
JOB_OWNED = {"renderers": "--renderers", "seeds": "--seeds", "fit_shapes": "--fit-shapes",
             "recon.device": "--device", "timing.device": "--device",
             "recon.class_ids": "--categories", "recon.data_dir": "--data-dir",
             "recon.renderer": "--renderers", "timing.renderers": "--renderers",
             "recon.seed": "--seeds", "recon.out_dir": "--results-root",
             "recon.preset": "--preset"}


@dataclass
class Plan:
    """The resolved settings of every stage (validated :mod:`bench_softras.settings`
    configs); :meth:`gradient_config` / :meth:`ablation_config`: their stage records."""

    preset: Preset
    renderers: tuple[str, ...]
    class_ids: tuple[str, ...]
    seeds: tuple[int, ...]
    fit_shapes: tuple[str, ...]
    fit: FitConfig
    recon: ReconConfig
    gradients: GradientConfig
    timing: TimingConfig
    ablations: AblationConfig
    examples: ExamplesConfig
    #: Renderers of the gradient study, and of fitting (:func:`plan_renderers`; timing's
    #: are ``timing.renderers``).
    study_renderers: tuple[str, ...] = ()
    fit_renderers: tuple[str, ...] = ()

    def gradient_config(self) -> dict:
        """The gradient stage's configuration (JSON-ready)."""
        return {"renderers": list(self.study_renderers), **dataclasses.asdict(self.gradients),
                "seed": self.seeds[0]}

    def ablation_config(self) -> dict:
        """The ablation stage's configuration (JSON-ready): target shape, fit, ablations."""
        return {**dataclasses.asdict(self.ablations), "fit": dataclasses.asdict(self.fit)}


# -- validation and planning ------------------------------------------------------------
def make_plan(cfg: MainJobConfig) -> Plan:
    """Check ``cfg`` (raising :class:`MainJobError` with what to change) and resolve the
    preset's settings, with ``cfg.settings`` applied, for every stage.  Everything a
    stage would refuse later is checked here, before any stage runs
    (:func:`check_plan`)."""
    try:
        preset = with_overrides(get_preset(cfg.preset), seeds=tuple(cfg.seeds) or None,
                                fit_shapes=tuple(cfg.fit_shapes) or None)
        preset = apply_settings(preset, cfg.settings, reserved=JOB_OWNED)
    except (KeyError, ConfigError) as exc:
        raise MainJobError(str(exc)) from None
    bad = [s for s in cfg.stages if s not in STAGES]
    if bad:
        raise MainJobError(f"unknown stage(s) {bad}; stages: {', '.join(STAGES)}")
    names, studies = plan_renderers(cfg.renderers, preset.renderers)
    try:
        check_device(cfg.device)
        check_writable_dir(cfg.results_root, "--results-root")
        check_writable_dir(cfg.reports_root, "--reports-root")
        if not cfg.data_dir:
            datasets.default_cache_root()  # $SOFTRAS_BENCH_DATA naming a file
    except UserError as exc:
        raise MainJobError(str(exc)) from None
    if cfg.data_dir and not Path(cfg.data_dir).is_dir():
        raise MainJobError(f"data directory {cfg.data_dir!r} does not exist; give the "
                           "directory holding the benchmark files "
                           "({class_id}_{split}_images.npz and _voxels.npz, e.g. the ShapeNet "
                           "renderings of N3MR/SoftRas), or leave --data-dir out to use the "
                           "built-in synthetic data set")
    # Class ids the data directory holds are accepted as they are (not only ShapeNet's).
    found = datasets.find_class_ids(cfg.data_dir, "train") if cfg.data_dir else ()
    try:
        class_ids = tuple(dict.fromkeys(class_id_of(c, found) for c in cfg.categories))
    except KeyError as exc:
        raise MainJobError(f"--categories: {exc.args[0]}") from None
    timing = with_overrides(preset.timing, renderers=studies["timing"], device=cfg.device)
    recon = with_overrides(preset.recon, device=cfg.device, class_ids=class_ids or None)
    ablations = with_overrides(preset.ablations,
                               shape=cfg.fit_shapes[0] if cfg.fit_shapes else None)
    plan = Plan(preset, names, class_ids, preset.seeds, preset.fit_shapes, preset.fit, recon,
                preset.gradients, timing, ablations, preset.examples,
                studies["gradients"], studies["fitting"])
    check_plan(plan, cfg.stages)
    return plan


def check_plan(plan: Plan, stages: tuple[str, ...]) -> None:
    """Refuse, before any stage runs, what the selected ``stages`` would refuse later:
    a ``--fit-shapes`` target that does not resolve (a missing or unusable mesh file, an
    unknown name), an ablation target or renderer that does not, a timing sweep with
    no configuration under the cost cap.  :class:`MainJobError` naming the option."""
    if "fitting" in stages:
        for shape in plan.fit_shapes:
            _check_target(shape, "--fit-shapes", data_objects=True)
    if "ablations" in stages:
        where = "--fit-shapes (its first target is the ablations')" if plan.fit_shapes else \
            "ablations.shape"
        _check_target(plan.ablations.shape, where, data_objects=False)
        try:
            ensure_registered(plan.ablations.renderer)
        except KeyError as exc:
            raise MainJobError(f"ablations.renderer: {exc.args[0]}") from None
    if "timing" in stages:
        try:
            timing_study.check_some_point_runs(plan.timing)
        except ConfigError as exc:
            raise MainJobError(str(exc)) from None


def _check_target(shape: str, where: str, data_objects: bool) -> None:
    """``shape`` resolves as a fitting target (:func:`fitting.load_target`: a mesh file is
    read, a category generated); a data-set object only when ``data_objects`` (its
    index is checked when the data set is there)."""
    if fitting.is_data_spec(shape):
        if data_objects:
            return
        raise MainJobError(f"{where} {shape!r}: a data-set object has no mesh; the ablations "
                           "fit a mesh target (a mesh file, cube or a category name)")
    try:
        fitting.load_target(shape)
    except (UserError, ValueError) as exc:
        raise MainJobError(f"{where} {shape!r}: {exc}") from None


def plan_renderers(given: tuple[str, ...], default: tuple[str, ...]
                   ) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """``(reconstruction renderers, {study: its renderers})`` for the studies ``fitting``,
    ``gradients`` and ``timing``.  Named renderers (``given``; the word ``all`` stands for
    every registered one) run in every stage (timing adds the dense references,
    ``renderers.names(cost_class="dense")``, noted when absent).  By default
    reconstruction trains ``default`` (the preset's) and each study runs every registered
    renderer but its :data:`~bench_softras.settings.STUDY_EXCLUDED` (timing: and the
    absent peers, to note them)."""
    every = tuple(renderers.available())
    named = tuple(dict.fromkeys(n for g in given for n in (every if g == ALL_RENDERERS
                                                             else (g,))))
    for n in named + tuple(default):
        try:
            ensure_registered(n)
        except KeyError as exc:
            raise MainJobError(exc.args[0]) from None
    if named:
        studies = dict.fromkeys(STUDY_EXCLUDED, named)
        dense = tuple(renderers.names(cost_class="dense", absent=True))
        studies["timing"] = tuple(dict.fromkeys(named + dense))
        return named, studies
    studies = {study: tuple(n for n in every if n not in out)
               for study, out in STUDY_EXCLUDED.items()}
    known = tuple(n for n in renderers.names(absent=True) if n not in STUDY_EXCLUDED["timing"])
    studies["timing"] = tuple(dict.fromkeys(studies["timing"] + known))
    return tuple(default), studies


# -- the stages -----------------------------------------------------------------------
def _data_stage(cfg: MainJobConfig, plan: Plan) -> tuple[dict, Callable]:
    config = {"data_dir": str(Path(cfg.data_dir).resolve()) if cfg.data_dir else "",
              "fingerprint": data_fingerprint(cfg.data_dir) if cfg.data_dir else "",
              "synthetic": "" if cfg.data_dir else plan.preset.synthetic_data,
              "synthetic_key": "" if cfg.data_dir else synthetic_key(plan),
              "class_ids": list(plan.class_ids)}

    def fn(d: Path) -> list[Path]:
        info = resolve_data(cfg, plan)
        path = d / DATA_JSON
        write_json(path, info)
        return [path]

    return config, fn


def _synthetic_args(plan: Plan) -> tuple[str, dict, object]:
    """``(params preset, overrides, renderer)`` of the synthetic build: the same renderer
    as :func:`bench_softras.commands.options.resolve_data_dir`, so the cache is
    shared."""
    over = {"class_ids": plan.class_ids} if plan.class_ids else {}
    return plan.preset.synthetic_data, over, make_renderer("hard", 64)


def synthetic_key(plan: Plan) -> str:
    """The cache hash of the synthetic build (changes with its parameters and the
    generator / file format versions)."""
    params, over, renderer = _synthetic_args(plan)
    return datasets.cache_key(datasets.resolve_params(params, **over), renderer)[0]


def resolve_data(cfg: MainJobConfig, plan: Plan) -> dict:
    """Find or build the data set; returns ``{"kind", "dir", "class_ids", ...}``."""
    if cfg.data_dir:
        d = Path(cfg.data_dir).resolve()
        found = datasets.find_class_ids(d, "train")
        if not found:
            raise MainJobError(f"no *_train_images.npz files in {str(d)!r}: expected the "
                               "benchmark layout {class_id}_{train,val,test}_images.npz / "
                               "_voxels.npz")
        missing = [c for c in plan.class_ids if c not in found]
        if missing:
            raise MainJobError(f"categories {missing} are not in {str(d)!r} (found {found})")
        log.info("data: checking every file in %s", d)
        check_data_dir(d, plan.class_ids or found, plan.recon.eval_split)
        return {"kind": "directory", "dir": str(d), "class_ids": list(plan.class_ids or found)}
    params, over, renderer = _synthetic_args(plan)
    d = datasets.build_synthetic(None, params, renderer, progress=cfg.progress, **over)
    manifest = datasets.read_manifest(d) or {}
    return {"kind": "synthetic", "dir": str(d), "preset": plan.preset.synthetic_data,
            "class_ids": list(manifest.get("categories", {})),
            "counts": manifest.get("counts", {}),
            "build_seconds": manifest.get("build_seconds")}


def _fitting_stage(cfg: MainJobConfig, plan: Plan, data: dict) -> tuple[dict, Callable]:
    data_dir = data.get("dir") or ""
    specs = fit_bench.benchmark_specs(data_dir, plan.preset.fit_bench, plan.class_ids)
    config = {"fit": dataclasses.asdict(plan.fit),
              "fit_bench": dataclasses.asdict(plan.preset.fit_bench),
              "shapes": specs + list(plan.fit_shapes), "user_shapes": list(plan.fit_shapes),
              "user_shape_content": [fitting.target_identity(s)[1] for s in plan.fit_shapes],
              "renderers": list(plan.fit_renderers), "preset": plan.preset.name,
              "data_dir": data_dir, "class_ids": list(plan.class_ids),
              "data_fingerprint": data.get("fingerprint", "")}

    def fn(d: Path) -> list[Path]:
        fit_bench.run_fit_benchmark(plan.fit_renderers, plan.preset, d, config=plan.fit,
                                    bench=plan.preset.fit_bench, data_dir=data_dir or None,
                                    class_ids=plan.class_ids, shapes=plan.fit_shapes,
                                    progress=cfg.progress, shard=cfg.shard, force=cfg.force)
        return fit_bench.output_paths(d)

    return config, fn


def _recon_stage(cfg: MainJobConfig, plan: Plan, data: dict) -> tuple[dict, Callable]:
    recon = with_overrides(plan.recon, data_dir=data["dir"])
    config = {"recon": recon.to_dict(), "renderers": list(plan.renderers),
              "seeds": list(plan.seeds), "preset": plan.preset.name,
              "data_fingerprint": data.get("fingerprint", ""),
              "recon_tuning": dataclasses.asdict(plan.preset.recon_tuning)}

    def fn(d: Path) -> list[Path]:
        evaluate.run_reconstruction(plan.preset, plan.renderers, data["dir"], d, plan.seeds,
                                    config=recon, tuning=plan.preset.recon_tuning,
                                    progress=cfg.progress, force=cfg.force, shard=cfg.shard)
        return [d / "recon_iou.csv", d / "recon_iou.parquet",
                *recon_tuning.output_paths(d)]

    return config, fn


def _gradient_stage(cfg: MainJobConfig, plan: Plan) -> tuple[dict, Callable]:
    config = plan.gradient_config()

    def fn(d: Path) -> list[Path]:
        gradient_study.run_gradient_config(plan.gradients, plan.study_renderers,
                                           seed=plan.seeds[0], out_dir=d,
                                           progress=cfg.progress)
        return [d / f"{s}.{e}" for s in ("gradient_accuracy", "forward_fidelity")
                for e in ("csv", "parquet")]

    return config, fn


def _ablation_stage(cfg: MainJobConfig, plan: Plan) -> tuple[dict, Callable]:
    config = {**plan.ablation_config(), "preset": plan.preset.name,
              "shape_content": fitting.target_identity(plan.ablations.shape)[1]}

    def fn(d: Path) -> list[Path]:
        fitting.run_ablations(plan.ablations, plan.fit, d, progress=cfg.progress)
        outputs = [d / "ablations.csv", d / "ablations.parquet"]
        return outputs + [p for p in [d / "color_views.npz"] if p.exists()]

    return config, fn


def _timing_stage(cfg: MainJobConfig, plan: Plan) -> tuple[dict, Callable]:
    config = plan.timing.to_dict()

    def fn(d: Path) -> list[Path]:
        timing_study.run_timing_study(plan.timing, d, progress=cfg.progress)
        return [d / "timing.csv", d / "timing.parquet"]

    return config, fn


def _examples_stage(cfg: MainJobConfig, plan: Plan, results_dir: Path,
                    data: dict) -> tuple[dict, Callable]:
    config = examples.examples_config(results_dir, data.get("dir"), plan.examples)
    return config, lambda d: examples.run_examples(results_dir, d, plan.examples)


# -- the job ------------------------------------------------------------------------------
#: ``extra`` key of log records that go to ``run.log`` only (e.g. the full configuration).
FILE_ONLY = "softras_file_only"


def _setup_logging(results_dir: Path) -> logging.Handler:
    """``run.log`` and the console get the records of every ``bench_softras`` module
    (e.g. a damaged cache file rebuilt, a saved evaluation redone)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(results_dir / RUN_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    top = logging.getLogger("bench_softras")
    top.addHandler(handler)
    top.setLevel(logging.INFO)
    if not any(getattr(h, "_softras_console", False) for h in top.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("[softras-bench] %(message)s"))
        console.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
        console._softras_console = True  # type: ignore[attr-defined]
        top.addHandler(console)
    return handler


def run_main_job(cfg: MainJobConfig) -> dict[str, Path]:
    """Run the selected stages (skipping finished ones) and build the report.

    Returns the report's paths ``{"markdown", "html"}`` (``{}`` for a shard, which
    builds no report).  Raises :class:`MainJobError` for configuration and input
    problems and :class:`~bench_softras.runlock.RunLockedError` when another job is
    running into the same run directory (unless ``cfg.wait``); shards of one sweep
    share it (:mod:`bench_softras.runlock`).
    """
    plan = make_plan(cfg)
    if cfg.shard is not None:  # before anything is logged or run
        _check_shard_options(cfg, sweep_options(cfg, plan))
    with run_lock(cfg.results_dir, wait=cfg.wait, shared=cfg.shard is not None):
        return _run_locked(cfg, plan)


def _run_locked(cfg: MainJobConfig, plan: Plan) -> dict[str, Path]:
    results_dir = cfg.results_dir
    handler = _setup_logging(results_dir)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    t_start = time.perf_counter()
    full_config = {**cfg.to_dict(), "renderers": list(plan.renderers),
                   "study_renderers": list(plan.study_renderers),
                   "class_ids": list(plan.class_ids), "seeds": list(plan.seeds),
                   "fit_shapes": list(plan.fit_shapes), "fit": dataclasses.asdict(plan.fit),
                   "fit_bench": dataclasses.asdict(plan.preset.fit_bench),
                   "fit_renderers": list(plan.fit_renderers),
                   "recon": plan.recon.to_dict(),
                   "recon_tuning": dataclasses.asdict(plan.preset.recon_tuning),
                   "generator": generator_label(plan.recon.model),
                   "gradients": plan.gradient_config(),
                   "ablations": plan.ablation_config(), "timing": plan.timing.to_dict(),
                   "examples": dataclasses.asdict(plan.examples),
                   "threads": _thread_settings(), "sweep": sweep_options(cfg, plan)}
    log.info("main job %s, configuration %s", cfg.name, json.dumps(full_config, default=str),
             extra={FILE_ONLY: True})
    log.info("main job %s: preset %s, renderers %s, %s, seeds %s, device %s; results in %s "
             "(full configuration in %s)", cfg.name, cfg.preset, ",".join(plan.renderers),
             f"categories {','.join(plan.class_ids)}" if plan.class_ids else "all categories",
             ",".join(map(str, plan.seeds)), cfg.device, results_dir, results_dir / RUN_LOG)
    status: dict[str, str] = {}
    try:
        if cfg.shard is None:
            _check_shard_options(cfg, full_config["sweep"])
        else:  # recorded at once, for the other shards to check
            _write_run_json(results_dir, cfg, full_config, {}, status, started, t_start)
        data = _run_data_stage(cfg, plan, status)
        _write_run_json(results_dir, cfg, full_config, data, status, started, t_start)
        stages = {"fitting": lambda: _fitting_stage(cfg, plan, data),
                  "reconstruction": lambda: _recon_stage(cfg, plan, data),
                  "gradients": lambda: _gradient_stage(cfg, plan),
                  "ablations": lambda: _ablation_stage(cfg, plan),
                  "timing": lambda: _timing_stage(cfg, plan),
                  "examples": lambda: _examples_stage(cfg, plan, results_dir, data)}
        todo = {}
        for stage, make in stages.items():
            if stage not in cfg.stages:
                continue
            if not shards.runs_stage(stage, cfg.shard):
                log.info("stage %s: not in shard %s (%s)", stage, cfg.shard,
                         "runs in shard 1" if stage in shards.SINGLE_UNIT_STAGES else
                         "runs in the unsharded call that merges the shards")
                continue
            todo[stage] = make
        made = {s: make() for s, make in todo.items() if s != "examples"}  # its config
        progress = _job_progress(cfg, made, todo)  # needs the others' stage records
        for stage, make in todo.items():
            config, fn = made.get(stage) or make()
            progress.begin(stage)
            status[stage] = _run_stage(cfg, stage, config, fn)
            progress.end(stage, status[stage])
            _write_run_json(results_dir, cfg, full_config, data, status, started, t_start)
        if any(v == "ran" for v in status.values()):
            _write_environment(results_dir, cfg.device, cfg.shard)
        _write_renderer_families(results_dir, plan)
        if cfg.shard is not None:
            log.info("shard %s done; once every shard is: softras-bench report "
                     "--from-results %s", cfg.shard, results_dir)
            return {}
        paths = report_build.build_report(results_dir, cfg.report_dir)
        for line in report_summary.headline_lines(cfg.report_dir):
            log.info("%s", line)
        log.info("report: %s, %s (%.1f s in all)", paths["markdown"], paths["html"],
                 time.perf_counter() - t_start)
        return paths
    finally:
        logging.getLogger("bench_softras").removeHandler(handler)
        handler.close()


def sweep_options(cfg: MainJobConfig, plan: Plan) -> dict:
    """The options every shard of a main job's sweep must be given alike (recorded in
    each shard's run record, :func:`_check_shard_options`): the preset, ``--set``
    values, renderers, categories, seeds, fit targets (mesh files by content), where the
    data comes from and every stage's resolved settings, without the machine's paths."""
    return {"preset": plan.preset.name, "settings": list(cfg.settings),
            "renderers": list(plan.renderers), "study_renderers": list(plan.study_renderers),
            "fit_renderers": list(plan.fit_renderers), "class_ids": list(plan.class_ids),
            "seeds": list(plan.seeds), "device": cfg.device,
            "fit_shapes": [f"{s} ({fitting.target_identity(s)[1][:24]})"
                           for s in plan.fit_shapes],
            "data": "--data-dir" if cfg.data_dir else f"synthetic {synthetic_key(plan)}",
            "fit": dataclasses.asdict(plan.fit),
            "fit_bench": dataclasses.asdict(plan.preset.fit_bench),
            "recon": plan.recon.portable_dict(),
            "gradients": plan.gradient_config(), "ablations": plan.ablation_config(),
            "timing": plan.timing.to_dict(), "examples": dataclasses.asdict(plan.examples)}


def _check_shard_options(cfg: MainJobConfig, options: dict) -> None:
    """A shard whose :func:`sweep_options` differ from another shard's of the same
    sweep (its run record) is refused (:class:`~bench_softras.shards.ShardMismatchError`,
    naming the difference); an unsharded call with other options than the shards' is
    warned: it runs every unit its own options need."""
    records = {s: (r.get("config") or {}).get("sweep")
               for s, r in shards.shard_records(cfg.results_dir).items()}
    if cfg.shard is not None:
        shards.check_sibling_options(records, cfg.shard, options)
        return
    for other, theirs in sorted(records.items(), key=lambda kv: (kv[0].count, kv[0].index)):
        why = shards.option_differences(theirs, options) if isinstance(theirs, dict) else ""
        if why:
            log.warning("options differ from shard %s's (%s, this call's first): this call "
                        "runs every unit its own options need", other, why)


def _job_progress(cfg: MainJobConfig, made: dict, todo: dict) -> JobProgress:
    """The job's progress over the stages of ``todo``, each priced from its planned units
    (:mod:`bench_softras.job_progress`; 0 for one that finished earlier with the same
    configuration); the heartbeat only when the progress bars are off."""
    priced = {}
    for stage in todo:
        config = made[stage][0] if stage in made else {}
        done = not cfg.force and stage in made and stage_done(cfg.results_dir, stage, config)
        priced[stage] = 0.0 if done else planned_units(stage, config) * UNIT_SECONDS[stage]
    return JobProgress(priced, heartbeat_s=None if cfg.progress else HEARTBEAT_S)


def _run_data_stage(cfg: MainJobConfig, plan: Plan, status: dict) -> dict:
    """Run (or find) the data stage when a selected stage needs it; returns its
    ``data.json`` with ``fingerprint``, the data's content fingerprint now
    (:func:`~bench_softras.data.data_fingerprint`), which the stages fed by the data
    record.  Data found is checked before it is used (:func:`_data_usable`); the stage
    runs again when it is not.  Shards take the data stage's lock in turn."""
    results_dir = cfg.results_dir
    data_config, data_fn = _data_stage(cfg, plan)
    lock = (run_lock(stage_dir(results_dir, "data"), wait=True) if cfg.shard is not None
            else contextlib.nullcontext())
    with lock:
        if any(s in cfg.stages for s in ("data", "fitting", "reconstruction", "examples")):
            status["data"], _ = run_stage(results_dir, "data", data_config, data_fn,
                                          cfg.force)
        data = read_json(stage_dir(results_dir, "data") / DATA_JSON) or {}
        if data and not _data_usable(data):
            status["data"], _ = run_stage(results_dir, "data", data_config, data_fn, True)
            data = read_json(stage_dir(results_dir, "data") / DATA_JSON) or {}
    if data:
        data["fingerprint"] = data_fingerprint(data["dir"])
    return data


def _data_usable(data: dict) -> bool:
    """Whether the data a finished data stage found can be used as it is: its directory
    exists (the cache may have been cleared) and a cached build's files still match the
    SHA-256 its manifest records (:func:`~bench_softras.data.cache_check.verify_manifest`;
    checked on every use, not only when the data stage runs).  Logs why not."""
    if not Path(data["dir"]).is_dir():
        log.warning("data: %s is gone; finding or building the data again", data["dir"])
        return False
    bad = verify_manifest(data["dir"]) if data.get("kind") == "synthetic" else []
    if bad:
        log.warning("data: %s in %s no longer match the SHA-256 of the cache's manifest "
                    "(edited or damaged); rebuilding them", ", ".join(bad), data["dir"])
    return not bad


def _run_stage(cfg: MainJobConfig, stage: str, config: dict, fn: Callable) -> str:
    """:func:`~bench_softras.runs.run_stage`; a shard's part of a sharded stage runs its
    units (each reused when finished) and writes no ``stage.json``, removing one left by
    an unsharded call with other settings."""
    whole = cfg.shard is None or stage not in shards.SHARDED_STAGES
    return run_stage(cfg.results_dir, stage, config, fn, cfg.force, record=whole,
                     label="" if whole else f", shard {cfg.shard}")[0]


def _thread_settings() -> dict:
    threads.ensure_configured()
    return threads.settings()


def _write_run_json(results_dir: Path, cfg: MainJobConfig, full_config: dict, data: dict,
                    status: dict, started: str, t_start: float) -> None:
    run = {"run_id": cfg.name, "config": full_config, "data": data, "stages": dict(status),
           "started": started, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "wall_s": round(time.perf_counter() - t_start, 2)}
    write_json(results_dir / RUN_JSON if cfg.shard is None else
               shards.shard_record_path(results_dir, "run", cfg.shard), run)


def _write_renderer_families(results_dir: Path, plan: Plan) -> None:
    """``renderers.json``: the self-description (:func:`renderers.describe`) of every
    renderer the run uses, in display order (``order``), for the report's "renderer
    families" table and its display order (the report imports no renderer code)."""
    names = dict.fromkeys(plan.renderers + plan.study_renderers + plan.timing.renderers)
    rows = []
    for name in names:
        if name not in renderers.available():
            continue  # an absent optional peer (the timing study notes it)
        info = renderers.describe(name)
        rows.append({"renderer": name, "family": info.family,
                     "forward model": info.forward_model, "gradient rule": info.gradient_rule,
                     "sharpness": info.sharpness or "",
                     "options": ", ".join(f"{o.name}={o.default:g}" if o.type is not str else
                                          f"{o.name}={o.default}" for o in info.options or ()),
                     "paper": info.paper, "cost": info.cost, "cost class": info.cost_class,
                     "slow": info.slow, "tuned from": info.tuned_from or "",
                     "order": info.order,
                     "stages": ", ".join(st for st, used in (
                         ("reconstruction", name in plan.renderers),
                         ("fitting", name in plan.fit_renderers),
                         ("gradients", name in plan.study_renderers),
                         ("timing", name in plan.timing.renderers)) if used)})
    write_json(results_dir / RENDERERS_JSON,
               sorted(rows, key=lambda r: (r["order"], r["renderer"])))  # display order


def _write_environment(results_dir: Path, device: str, shard: Shard | None) -> None:
    """``environment.json`` (a shard: ``shards/environment_<i>_of_<n>.json``)."""
    path = (results_dir / ENV_JSON if shard is None else
            shards.shard_record_path(results_dir, "environment", shard))
    env = collect_environment(device)
    old = read_json(path) or shards.merged_run_record(results_dir, "environment") or {}
    if env.get("taichi_arch") is None and old.get("taichi_arch"):
        env["taichi_arch"] = old["taichi_arch"]  # no Taichi renderer ran in this call
    write_json(path, env)
