"""The main job (``softras-bench report``, ``nox -s report``): every experiment of the
suite on one data set, then the report.

Stages, one module each under :mod:`bench_softras.stages` (the registry
:func:`bench_softras.stages.ordered`, in the order of the results schema
:data:`bench_softras.results_schema.SCHEMA`), each writing its tables under
``results/<run-id>/<stage>/`` (layout: :mod:`bench_softras.runs`):

1. ``data``: the built-in synthetic data set or a directory of benchmark files
   (:mod:`bench_softras.stages.data`);
2. ``fitting``: the fitting benchmark (:mod:`bench_softras.stages.fitting`);
3. ``reconstruction``: training and evaluation of the generator per renderer and seed
   (:mod:`bench_softras.stages.reconstruction`);
4. ``gradients``: gradient accuracy and forward fidelity vs sigma
   (:mod:`bench_softras.stages.gradients`);
5. ``ablations``: the paper's ablations as mesh fits (:mod:`bench_softras.stages.ablations`);
6. ``timing``: the timing study (:mod:`bench_softras.stages.timing`);
7. ``examples``: example silhouettes and meshes for the report
   (:mod:`bench_softras.stages.examples`);

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
from . import results_schema, shards
from . import stages as stage_registry
from .atomic import write_json
from .data import class_id_of, data_fingerprint
from .data.cache_check import verify_manifest
from .environment import collect_environment
from .errors import ConfigError, UserError, check_device, check_writable_dir
from .experiments import fitting
from .experiments.renderer_choice import ensure_registered
from .job_progress import HEARTBEAT_S, JobProgress, progress_default
from .report import build as report_build  # selects matplotlib's Agg backend
from .report import summary as report_summary
from .runlock import run_lock
from .runs import (
    DATA_JSON,
    ENV_JSON,
    RENDERERS_JSON,
    RUN_JSON,
    RUN_LOG,
    read_json,
    run_stage,
    stage_dir,
    stage_done,
)
from .safe_paths import check_run_id, user_path
from .settings import (
    ALL_RENDERERS,
    STUDY_EXCLUDED,
    apply_section,
    apply_settings,
    get_preset,
    split_setting,
    with_overrides,
)
from .shards import Shard
from .stages import data as data_stage
from .stages.base import MainJobError, Plan, Stage, StageContext
from .stages.data import synthetic_key

#: Re-exported: the main job's error, plan and the synthetic data's cache key live with
#: the stages (:mod:`bench_softras.stages.base`, :mod:`bench_softras.stages.data`).
__all__ = ["JOB_OWNED", "MainJobConfig", "MainJobError", "Plan", "check_plan", "make_plan",
           "plan_renderers", "resolve_data", "run_main_job", "stage_config", "stage_context",
           "sweep_options", "synthetic_key"]

log = logging.getLogger("bench_softras.main_job")


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
    stages: tuple[str, ...] = field(default_factory=results_schema.stage_names)
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


# -- validation and planning ------------------------------------------------------------
def make_plan(cfg: MainJobConfig) -> Plan:
    """Check ``cfg`` (raising :class:`MainJobError` with what to change) and resolve the
    preset's settings, with ``cfg.settings`` applied, for every stage.  Everything a
    stage would refuse later is checked here, before any stage runs
    (:func:`check_plan`)."""
    try:
        preset = with_overrides(get_preset(cfg.preset), seeds=tuple(cfg.seeds) or None,
                                fit_shapes=tuple(cfg.fit_shapes) or None)
        own = {st.section for st in stage_registry.ordered() if st.settings_type is not None}
        preset = apply_settings(preset, [t for t in cfg.settings
                                         if split_setting(t)[0][0] not in own],
                                reserved=JOB_OWNED)
        sections = {st.section: apply_section(st.settings_type(), st.section, cfg.settings)
                    for st in stage_registry.ordered() if st.settings_type is not None}
    except (KeyError, ConfigError) as exc:
        raise MainJobError(str(exc)) from None
    known = results_schema.stage_names()
    bad = [s for s in cfg.stages if s not in known]
    if bad:
        raise MainJobError(f"unknown stage(s) {bad}; stages: {', '.join(known)}")
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
    plan.sections.update(sections)  # registered stages' own settings, --set applied
    check_plan(plan, cfg.stages)
    return plan


def check_plan(plan: Plan, stages: tuple[str, ...]) -> None:
    """Refuse, before any stage runs, what the selected ``stages`` would refuse later
    (each stage's :meth:`~bench_softras.stages.base.Stage.check`: a ``--fit-shapes``
    target that does not resolve, an ablation target or renderer that does not, a timing
    sweep with no configuration under the cost cap).  :class:`MainJobError` naming the
    option."""
    for stage in stage_registry.ordered():
        if stage.name in stages:
            stage.check(plan)


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


# -- the stages (their modules: bench_softras.stages) ------------------------------------
def stage_context(cfg: MainJobConfig, plan: Plan, data: dict | None = None) -> StageContext:
    """What the job's stages are given (``data``: the data stage's record)."""
    return StageContext(plan, cfg.results_dir, cfg.data_dir, dict(data or {}), cfg.progress,
                        cfg.force, cfg.shard)


def stage_config(cfg: MainJobConfig, plan: Plan, stage: str, data: dict | None = None) -> dict:
    """The configuration ``stage`` records (its hash decides reuse) for this job."""
    return stage_registry.get(stage).configure(stage_context(cfg, plan, data))


def resolve_data(cfg: MainJobConfig, plan: Plan) -> dict:
    """Find or build the data set (:func:`bench_softras.stages.data.resolve_data`)."""
    return data_stage.resolve_data(stage_context(cfg, plan))


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
    full_config = full_config_of(cfg, plan)
    log.info("main job %s, configuration %s", cfg.name, json.dumps(full_config, default=str),
             extra={FILE_ONLY: True})
    log.info("main job %s: preset %s, renderers %s, %s, seeds %s, device %s; results in %s "
             "(full configuration in %s)", cfg.name, cfg.preset, ",".join(plan.renderers),
             f"categories {','.join(plan.class_ids)}" if plan.class_ids else "all categories",
             ",".join(map(str, plan.seeds)), cfg.device, results_dir, results_dir / RUN_LOG)
    status: dict[str, str] = {}
    walls: dict[str, float] = {}  # seconds of each stage this call ran
    try:
        if cfg.shard is None:
            _check_shard_options(cfg, full_config["sweep"])
        else:  # recorded at once, for the other shards to check
            _write_run_json(results_dir, cfg, full_config, {}, status, started, t_start)
        data = _run_data_stage(cfg, plan, status)
        _write_run_json(results_dir, cfg, full_config, data, status, started, t_start)
        _run_stages(cfg, plan, data, status, walls,
                    lambda: _write_run_json(results_dir, cfg, full_config, data, status,
                                            started, t_start, walls))
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


def full_config_of(cfg: MainJobConfig, plan: Plan) -> dict:
    """The run's configuration (``run.json``'s ``config``): the job's options, the
    plan's renderer, category, seed and target selections, then every registered
    stage's settings in the registry's order
    (:meth:`~bench_softras.stages.base.Stage.recorded_settings`; no section is named
    here, so a stage added by ``stages.register`` needs no edit), the thread settings
    and the :func:`sweep_options`."""
    return {**cfg.to_dict(), "renderers": list(plan.renderers),
            "study_renderers": list(plan.study_renderers),
            "class_ids": list(plan.class_ids), "seeds": list(plan.seeds),
            "fit_shapes": list(plan.fit_shapes),
            **{k: v for stage in stage_registry.ordered()
               for k, v in stage.recorded_settings(plan).items()},
            "threads": _thread_settings(), "sweep": sweep_options(cfg, plan)}


def sweep_options(cfg: MainJobConfig, plan: Plan) -> dict:
    """The options every shard of a main job's sweep must be given alike (recorded in
    each shard's run record, :func:`_check_shard_options`): the preset, ``--set``
    values, renderers, categories, seeds, device, fit targets (mesh files by content),
    then every registered stage's resolved settings without the machine's paths, in
    the registry's order (:meth:`~bench_softras.stages.base.Stage.portable_settings`:
    the data stage's says where the data comes from)."""
    return {"preset": plan.preset.name, "settings": list(cfg.settings),
            "renderers": list(plan.renderers), "study_renderers": list(plan.study_renderers),
            "fit_renderers": list(plan.fit_renderers), "class_ids": list(plan.class_ids),
            "seeds": list(plan.seeds), "device": cfg.device,
            "fit_shapes": [f"{s} ({fitting.target_identity(s)[1][:24]})"
                           for s in plan.fit_shapes],
            **{k: v for stage in stage_registry.ordered()
               for k, v in stage.portable_settings(plan, cfg.data_dir).items()}}


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


def _run_stages(cfg: MainJobConfig, plan: Plan, data: dict, status: dict, walls: dict,
                record: Callable[[], None]) -> None:
    """Run the selected stages after ``data``, in the registry's order
    (:func:`bench_softras.stages.ordered`), those of this shard only
    (:func:`~bench_softras.shards.runs_stage`); ``status[stage]``: ``ran`` / ``skipped``;
    ``walls[stage]``: seconds of a stage this call ran; ``record()`` after each (the run
    record)."""
    ctx = stage_context(cfg, plan, data)
    todo = []
    for stage in stage_registry.ordered():
        if stage.name == "data" or stage.name not in cfg.stages:
            continue
        if not shards.runs_stage(stage.name, cfg.shard):
            log.info("stage %s: not in shard %s (%s)", stage.name, cfg.shard,
                     "runs in shard 1" if stage.shard_kind == "single" else
                     "runs in the unsharded call that merges the shards")
            continue
        todo.append(stage)
    made = {s.name: s.configure(ctx) for s in todo if not s.configure_late}
    progress = _job_progress(cfg, made, todo)  # needs the others' stage records
    for stage in todo:
        config = made[stage.name] if stage.name in made else stage.configure(ctx)
        progress.begin(stage.name)
        t0 = time.perf_counter()
        status[stage.name] = _run_stage(cfg, stage.name, config,
                                        lambda d, st=stage: st.run(ctx, d))
        if status[stage.name] == "ran":
            walls[stage.name] = round(time.perf_counter() - t0, 2)
        progress.end(stage.name, status[stage.name])
        record()


def _job_progress(cfg: MainJobConfig, made: dict, todo: list[Stage]) -> JobProgress:
    """The job's progress over the stages of ``todo``, each priced from its planned units
    (:meth:`~bench_softras.stages.base.Stage.seconds`; 0 for one that finished earlier
    with the same configuration; a stage whose units are shared out among ``cfg.shard``'s
    ``count`` shards at 1/count of it); the heartbeat only when the progress bars are off."""
    priced = {}
    for stage in todo:
        config = made.get(stage.name, {})
        done = (not cfg.force and stage.name in made
                and stage_done(cfg.results_dir, stage.name, config))
        share = (1 / cfg.shard.count
                 if cfg.shard is not None and stage.name in shards.SHARDED_STAGES else 1.0)
        priced[stage.name] = 0.0 if done else stage.seconds(config) * share
    return JobProgress(priced, heartbeat_s=None if cfg.progress else HEARTBEAT_S)


def _run_data_stage(cfg: MainJobConfig, plan: Plan, status: dict) -> dict:
    """Run (or find) the data stage when a selected stage needs it; returns its
    ``data.json`` with ``fingerprint``, the data's content fingerprint now
    (:func:`~bench_softras.data.data_fingerprint`), which the stages fed by the data
    record.  Data found is checked before it is used (:func:`_data_usable`); the stage
    runs again when it is not.  Shards take the data stage's lock in turn."""
    results_dir = cfg.results_dir
    ctx = stage_context(cfg, plan)
    stage = stage_registry.get("data")
    data_config = stage.configure(ctx)

    def data_fn(d: Path) -> list[Path]:
        return stage.run(ctx, d)

    lock = (run_lock(stage_dir(results_dir, "data"), wait=True) if cfg.shard is not None
            else contextlib.nullcontext())
    with lock:
        if any(stage_registry.get(s).needs_data for s in cfg.stages):
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
    whole = cfg.shard is None or stage not in results_schema.stages_of("units")
    return run_stage(cfg.results_dir, stage, config, fn, cfg.force, record=whole,
                     label="" if whole else f", shard {cfg.shard}")[0]


def _thread_settings() -> dict:
    threads.ensure_configured()
    return threads.settings()


def _write_run_json(results_dir: Path, cfg: MainJobConfig, full_config: dict, data: dict,
                    status: dict, started: str, t_start: float,
                    walls: dict | None = None) -> None:
    """``run.json`` (a shard: its own ``shards/run_<i>_of_<n>.json``): the configuration,
    data, what each stage did (``stages``), the seconds of the stages this call ran
    (``stage_wall_s``; a shard's part of a sharded stage writes no ``stage.json``, so its
    time is kept here and the report sums it over the shards) and the call's wall time."""
    run = {"run_id": cfg.name, "config": full_config, "data": data, "stages": dict(status),
           "stage_wall_s": dict(walls or {}),
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
