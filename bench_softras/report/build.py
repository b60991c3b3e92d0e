"""Build ``report.md`` / ``report.html`` (plus ``figures/`` and ``data/``) from a main-job
results directory (layout: :mod:`bench_softras.runs`; readers: :mod:`.results`).  Only
reads saved results: ``softras-bench report --from-results DIR`` rebuilds a report
without running anything.  Paths are named relative to the run's roots
(:mod:`.paths`), never as absolute paths of the machine that built the report.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd

from bench_softras import results_schema as schema
from bench_softras.runs import (
    CURVE_FILE,
    ENV_JSON,
    METRICS_FILE,
    RUN_JSON,
    stage_dir,
)
from bench_softras.shards import merged_run_record

from . import order, sections, summary, synthesis
from .document import Document
from .nonfinite import nonfinite_section
from .paths import RESULTS_ROOT, PathNamer
from .results import (
    RECON,
    empty_tables,
    missing_units,
    read_examples,
    read_families,
    read_record,
    read_run_logs,
    read_run_record,
    read_stage,
    read_table,
    read_table_file,
    run_file,
    run_id_of,
)
from .results import tables as table_keys
from .sections.ablations import ablation_table, color_sentence
from .sections.base import ReportInputs, absent_note
from .sections.fitting import fitting_final_table
from .sections.gradients import fidelity_summary, gradient_summary
from .sections.reconstruction import seed_table, training_setup, voxel_iou_table
from .sections.timing import taichi_vs_torch_table, timing_base_table
from .verdicts import training_seconds

#: Re-exported: the tables of the stages' sections (:mod:`bench_softras.report.sections`).
__all__ = ["ablation_table", "build_report", "color_sentence", "environment_table",
           "fidelity_summary", "fitting_final_table", "gradient_summary", "seed_table",
           "stage_table", "taichi_vs_torch_table", "timing_base_table", "training_setup",
           "voxel_iou_table"]

#: The tables whose emptiness and non-finite values the report checks first, in the
#: order it names them (a registered stage's tables follow), and the fitting settings'.
MAIN_TABLES = (schema.FITTING, RECON, schema.GRADIENT_ACCURACY, schema.FORWARD_FIDELITY,
               schema.ABLATIONS, schema.TIMING, schema.RECON_PER_OBJECT)
SETTINGS_TABLES = (schema.FIT_CHOICES, schema.FIT_TUNING, schema.FIT_TARGETS)


# -- tables ---------------------------------------------------------------------------
def stage_table(results_dir: Path, run: dict | None,
                train_metrics: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per stage: status in the last call (ran / skipped), wall time of the call that
    finished it (a stage merged from shards, which writes no ``stage.json``: the seconds
    its shards spent, summed, from the run record's ``stage_wall_s``), when, and for
    ``reconstruction`` the training seconds of every run summed over all calls (``train_s,
    all calls``: a stage resumed after an interruption finishes in a call that did only
    part of its training)."""
    last = (run or {}).get("stages", {})
    shard_walls = (run or {}).get("stage_wall_s")
    shard_walls = shard_walls if isinstance(shard_walls, dict) else {}
    rows = []
    for stage in schema.stage_names():  # registered stages too
        rec = read_stage(results_dir, stage)
        if rec is None and stage not in last:
            continue
        wall = (rec or {}).get("wall_s", shard_walls.get(stage) if rec is None else None)
        rows.append({"stage": stage, "last call": last.get(stage, ""),
                     "wall_s": _seconds(wall),
                     "train_s, all calls": (training_seconds(train_metrics)
                                            if stage == "reconstruction" else math.nan),
                     "finished": (rec or {}).get("finished", ""),
                     "config_hash": (rec or {}).get("config_hash", "")})
    return pd.DataFrame(rows, columns=["stage", "last call", "wall_s", "train_s, all calls",
                                       "finished", "config_hash"])


def _seconds(value) -> float:
    """A recorded number of seconds, NaN unless a finite number >= 0 (records are data)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) and value >= 0 else math.nan


def environment_table(env: dict | None, namer: PathNamer | None = None) -> pd.DataFrame:
    """Two columns (item, value) flattening ``environment.json``
    (:func:`bench_softras.environment.collect_environment`); absolute paths are named by
    ``namer`` (default: no roots, so only their last component is shown)."""
    namer = namer or PathNamer(())
    env = namer.scrub(env)
    if not env:
        return pd.DataFrame({"item": ["environment.json"], "value": ["missing"]})
    rows = [("python", env.get("python")), ("platform", env.get("platform"))]
    rows += [(f"package: {k}", v or "not installed")
             for k, v in (env.get("packages") or {}).items()]
    cpu = env.get("cpu") or {}
    rows += [("CPU", cpu.get("model")), ("CPU cores (logical / usable)",
                                         f"{cpu.get('logical_cores')} / {cpu.get('usable_cores')}"),
             ("memory (GiB)", env.get("memory_gb")), ("torch threads", env.get("torch_threads"))]
    cuda = env.get("cuda") or {}
    rows += [("GPU", ", ".join(cuda.get("devices") or []) or "none"),
             ("torch CUDA", cuda.get("torch_cuda") or "none"),
             ("Taichi arch", env.get("taichi_arch") or "not initialised"),
             ("device asked for", env.get("device")), ("git commit", env.get("git_commit"))]
    return pd.DataFrame([{"item": k, "value": "" if v is None else str(v)} for k, v in rows])


def build_report(results_dir: str | Path, report_dir: str | Path | None = None, *,
                 title: str | None = None, reports_root: str | Path = "reports"
                 ) -> dict[str, Path]:
    """Write the report of the results in ``results_dir`` to ``report_dir`` (default:
    ``<reports_root>/<run-id>`` with the run id from ``run.json``, else the directory
    name; a run id that is not one safe folder name is refused,
    :func:`.results.run_id_of`).

    Sections are written for the stages whose tables exist; missing ones are noted.
    Returns ``{"markdown": path, "html": path}``.  Raises ``FileNotFoundError`` when
    ``results_dir`` does not exist or holds no results at all.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory {str(results_dir)!r} does not exist")
    order.use_run(results_dir)
    run = read_run_record(results_dir)
    env = (read_record(run_file(results_dir, ENV_JSON))
           or merged_run_record(results_dir, "environment"))
    every = {k: read_table(results_dir, k) for k in table_keys()}
    added = tuple(k for k, (stage, _) in table_keys().items()
                  if stage not in schema.BUILT_IN)  # a registered stage's tables
    checked = (*MAIN_TABLES, *added, *SETTINGS_TABLES)
    empty = empty_tables({k: every[k] for k in checked})
    for key in empty:  # their sections then say "no results"; _empty_section says why
        every[key] = None
    tables = {k: every[k] for k in (*MAIN_TABLES, *added)}
    logs = {"curves": read_run_logs(results_dir, CURVE_FILE),
            "metrics": read_run_logs(results_dir, METRICS_FILE)}
    examples = read_examples(results_dir)
    if run is None and all(t is None for t in tables.values()):
        raise FileNotFoundError(f"{results_dir} holds no main-job results (no {RUN_JSON}, no "
                                "stage tables)")
    run_id = run_id_of(results_dir, run)  # one safe folder name, or refused
    report_dir = Path(report_dir) if report_dir is not None else Path(reports_root) / run_id
    cfg = (run or {}).get("config") or {}
    namer = PathNamer.for_run(results_dir, run)
    doc = Document(title or f"softras-bench report: {run_id}")
    shown = namer.name(results_dir.absolute())
    doc.text(f"Run `{run_id}`, preset `{cfg.get('preset', '?')}`, renderers "
             f"{', '.join(f'`{r}`' for r in cfg.get('renderers') or []) or '?'}, device "
             f"`{cfg.get('device', '?')}`. Report built "
             f"{time.strftime('%Y-%m-%d %H:%M:%S')} from the run directory `{shown}`; "
             f"rebuild it with `softras-bench report --from-results {shown}` "
             f"(`{RESULTS_ROOT}`: the folder the job wrote its runs to, its "
             f"`--results-root`; `results` by default).")
    top = len(doc.blocks)  # the summary goes here once the sections are written
    lost = missing_units(results_dir)
    if lost:
        doc.heading("Missing results")
        doc.text("These runs of the sweep have no results under the run directory (their "
                 "shard has not run or not finished); the tables below leave them out:")
        doc.code("\n".join(lost))
    nonfinite_section(doc, {k: every[k] for k in checked})
    _empty_section(doc, empty, results_dir)
    families = read_families(results_dir)
    absent = absent_renderers(results_dir, run, families)
    synthesis.synthesis_section(doc, tables, logs, cfg)
    inputs = ReportInputs(results_dir, run, cfg, every, examples, logs, namer, absent)
    for _stage, render in sections.ordered():  # one module per stage (report/sections)
        render(doc, inputs)
    _families_section(doc, families, absent)
    _environment_section(doc, results_dir, run, env, logs["metrics"], namer)
    doc.splice(top, summary.summary_document(doc, run, namer, absent))
    return doc.write(report_dir)


def _empty_section(doc: Document, empty: list[str], results_dir: Path) -> None:
    """Name the tables saved without rows (:func:`.results.empty_tables`); a timing table
    emptied by the cost cap says so."""
    if not empty:
        return
    doc.heading("Empty results")
    lines = []
    for key in empty:
        stage, stem = table_keys()[key]
        why = ""
        skipped_name = schema.csv_name(schema.TIMING_SKIPPED)
        skipped = stage_dir(results_dir, "timing") / skipped_name
        if key == schema.TIMING and skipped.is_file():
            n = len(read_table_file(skipped))
            why = f" ({skipped_name} lists {n} configurations over the cost cap)"
        lines.append(f"{stage}/{stem}: no rows{why}")
    doc.text("These tables were saved without rows, so their sections below show no "
             "results; rerun their stage with settings that produce some:")
    doc.code("\n".join(lines))


def absent_renderers(results_dir: Path, run: dict | None,
                     families: list | None) -> dict[str, str]:
    """``{renderer: why}`` for the renderers the job asked for but could not run (the
    optional peers, ``mitsuba`` and ``pytorch3d_soft``, where they are not installed):
    the timing study's notes, and the configured renderers without a description in
    ``renderers.json``."""
    notes = read_record(run_file(results_dir, stage_dir(results_dir, "timing") /
                                 schema.TIMING_NOTES_JSON)) or {}
    out = dict(notes.get("absent_renderers") or {})
    if families:
        cfg = (run or {}).get("config") or {}
        asked = [*(cfg.get("renderers") or []), *(cfg.get("study_renderers") or []),
                 *((cfg.get("timing") or {}).get("renderers") or [])]
        have = {f.get("renderer") for f in families}
        for name in asked:
            if name not in have:
                out.setdefault(name, "not available on the machine that ran the job")
    return out


def _families_section(doc: Document, families: list | None, absent: dict[str, str]) -> None:
    """The "renderer families" table: each renderer's forward model, gradient rule,
    sharpness parameter, options, source paper, cost class and the stages it ran in
    (from ``renderers.json``, written by the main job)."""
    doc.heading("Renderer families")
    absent_note(doc, absent)
    if not families:
        doc.text("No renderer descriptions were saved with this run (`renderers.json`).")
        return
    doc.text("How each renderer gets a gradient through a silhouette, as it describes itself "
             "(`renderers.describe`): family `soft` (a smooth forward and its exact "
             "gradient), `approximate` (a hard forward with a hand-made gradient rule), "
             "`exact` (the true gradient of a hard forward: zero) or `estimator` (a hard "
             "forward and an estimate of the gradient of pixel coverage).")
    doc.table(pd.DataFrame(families), "renderer_families", "Renderer families")


def _environment_section(doc: Document, results_dir: Path, run, env, metrics,
                         namer: PathNamer) -> None:
    doc.heading("Environment, configuration, wall time")
    doc.table(environment_table(env, namer), "environment", "Environment of the run")
    stages = stage_table(results_dir, run, metrics)
    if len(stages):
        doc.table(stages, "stages", "Stages: status in the last call and wall time (s) of "
                                    "the call that finished them (a stage run in shards: "
                                    "their seconds summed); `train_s, all calls`: "
                                    "training seconds of every reconstruction run summed "
                                    "over all calls, resumed ones included", ".1f")
    if run:
        seeds = (run.get("config") or {}).get("seeds")
        doc.text(f"Seeds: {seeds}. Full configuration (`run.json`; absolute paths named "
                 f"relative to the run's roots: `{RESULTS_ROOT}` and the like):")
        doc.code(json.dumps(namer.scrub(run.get("config")), indent=2, default=str))
