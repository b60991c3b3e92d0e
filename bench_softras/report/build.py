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

import numpy as np
import pandas as pd

from bench_softras.runs import (
    CURVE_FILE,
    ENV_JSON,
    METRICS_FILE,
    RUN_JSON,
    STAGES,
    stage_dir,
)
from bench_softras.shards import merged_run_record

from . import evidence, figures, order, recon_tuning, summary, synthesis, tuning
from .document import Document, png_bytes
from .nonfinite import nonfinite_section
from .paper import paper_table1
from .paths import RESULTS_ROOT, PathNamer
from .results import (
    TABLES,
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
from .summary import describe_data
from .verdicts import run_convergence, summed_wall, training_seconds, unsettled

#: Renderers in display order: the order each declares, read from ``renderers.json``.
_ordered = order.ordered


# -- tables ---------------------------------------------------------------------------
def voxel_iou_table(recon: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Voxel IoU per category (rows, plus a ``mean`` row over the categories shown) and
    renderer (columns ``ours: <renderer>``, mean over seeds), with the paper's Table 1
    columns (``paper: <method> (ShapeNet)``) joined on ``class_id`` (blank for classes
    the paper has not).  Category names come from ``recon``'s ``category`` column (the
    class id where it has none)."""
    paper = paper_table1() if paper is None else paper
    ours = recon.groupby(["class_id", "renderer"])["voxel_iou"].mean().unstack("renderer")
    ours = ours[_ordered(ours.columns)]
    ours.columns = [f"ours: {c}" for c in ours.columns]
    ours = ours.reset_index()
    names = (recon.dropna(subset=["category"]).groupby("class_id")["category"].first()
             if "category" in recon.columns else pd.Series(dtype=str))
    ours.insert(1, "category", [str(names.get(c, c)) for c in ours["class_id"]])
    pap = paper.set_index("class_id")[["N3MR", "SoftRas"]]
    pap.columns = [f"paper: {c} (ShapeNet)" for c in pap.columns]
    table = ours.merge(pap, how="left", left_on="class_id", right_index=True)
    mean = table.drop(columns=["class_id", "category"]).mean(numeric_only=True)
    mean_row = pd.DataFrame([{"class_id": "", "category": "mean", **mean.to_dict()}])
    return pd.concat([table, mean_row], ignore_index=True)


def seed_table(recon: pd.DataFrame) -> pd.DataFrame:
    """Mean voxel IoU over categories for each renderer (rows) and training seed
    (columns ``seed <s>``), then ``mean``, ``std`` (sample standard deviation across
    seeds; blank with one seed) and ``seeds``.  The template floor has no seed."""
    per = (recon.groupby(["renderer", "seed", "class_id"], dropna=False)["voxel_iou"].mean()
           .groupby(["renderer", "seed"], dropna=False).mean().reset_index())
    per["column"] = [("seed " + str(int(x))) if pd.notna(x) else "no seed"
                     for x in per["seed"]]
    wide = per.pivot(index="renderer", columns="column", values="voxel_iou")
    wide.columns.name = None  # else HTML shows the pivot's "column" as a stray header
    seed_cols = sorted((c for c in wide.columns if c != "no seed"),
                       key=lambda c: int(c.split()[1]))
    wide = wide[[*seed_cols, *(["no seed"] if "no seed" in wide.columns else [])]]
    stats = per.groupby("renderer")["voxel_iou"]
    wide["mean"] = stats.mean()
    wide["std"] = stats.std(ddof=1)
    wide["seeds"] = per.groupby("renderer")["seed"].apply(lambda x: int(x.notna().sum()))
    wide = wide.loc[_ordered(wide.index)]
    return wide.reset_index()


def fitting_final_table(fit: pd.DataFrame) -> pd.DataFrame:
    """The last recorded step of every (shape, renderer): its category (when recorded),
    IoUs and optimisation time."""
    last = fit.sort_values("step").groupby(["shape", "renderer"], sort=False).tail(1)
    cols = ["shape", *(["category"] if "category" in fit else []), "renderer", "step",
            "voxel_iou", "silhouette_iou", "loss", "wall_s"]
    last = last[cols].copy()
    last["_r"] = last["renderer"].map({n: i for i, n in enumerate(_ordered(last["renderer"]))})
    return last.sort_values(["shape", "_r"]).drop(columns="_r").reset_index(drop=True)


def gradient_summary(grad: pd.DataFrame) -> pd.DataFrame:
    """Per renderer and sigma: gradient cosine similarity (mean over scenes), one column
    per loss, plus the mean sign agreement and relative L2 error over all losses."""
    cos = grad.groupby(["renderer", "sigma", "loss"], dropna=False)["cosine"].mean()
    cos = cos.unstack("loss")
    cos.columns = [f"cosine: {c}" for c in cos.columns]
    rest = grad.groupby(["renderer", "sigma"], dropna=False)[["sign_agree", "rel_l2"]].mean()
    out = cos.join(rest).reset_index()
    out["_r"] = out["renderer"].map({n: i for i, n in enumerate(_ordered(out["renderer"]))})
    return out.sort_values(["_r", "sigma"]).drop(columns="_r").reset_index(drop=True)


def fidelity_summary(fid: pd.DataFrame) -> pd.DataFrame:
    """Per renderer and sigma: mean (over scenes) forward-fidelity measures."""
    cols = [c for c in ("mad_exact", "mad_hard", "sil_iou", "sil_iou_hard") if c in fid]
    out = fid.groupby(["renderer", "sigma"], dropna=False)[cols].mean().reset_index()
    out["_r"] = out["renderer"].map({n: i for i, n in enumerate(_ordered(out["renderer"]))})
    return out.sort_values(["_r", "sigma"]).drop(columns="_r").reset_index(drop=True)


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


def stage_table(results_dir: Path, run: dict | None,
                train_metrics: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per stage: status in the last call (ran / skipped), wall time of the call that
    finished it, when, and for ``reconstruction`` the training seconds of every run
    summed over all calls (``train_s, all calls``: a stage resumed after an interruption
    finishes in a call that did only part of its training)."""
    last = (run or {}).get("stages", {})
    rows = []
    for stage in STAGES:
        rec = read_stage(results_dir, stage)
        if rec is None and stage not in last:
            continue
        rows.append({"stage": stage, "last call": last.get(stage, ""),
                     "wall_s": (rec or {}).get("wall_s", math.nan),
                     "train_s, all calls": (training_seconds(train_metrics)
                                            if stage == "reconstruction" else math.nan),
                     "finished": (rec or {}).get("finished", ""),
                     "config_hash": (rec or {}).get("config_hash", "")})
    return pd.DataFrame(rows, columns=["stage", "last call", "wall_s", "train_s, all calls",
                                       "finished", "config_hash"])


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


def training_setup(run: dict | None) -> str:
    """One sentence of how the reconstruction runs were trained (generator, input size,
    batch, steps, learning rate and its decay, sigma), from ``run.json``; empty when the
    run did not record it."""
    cfg = (run or {}).get("config") or {}
    recon = cfg.get("recon") or {}
    if not recon:
        return ""
    decay = (f", multiplied (with sigma) by {recon.get('decay_factor')} after step "
             f"{recon['lr_decay_at']}" if recon.get("lr_decay_at") else ", constant")
    if recon.get("lr_schedule") == "cosine":
        decay = (", cosine-annealed to 0 at the last step" + (
            f" (sigma multiplied by {recon.get('decay_factor')} after step "
            f"{recon['lr_decay_at']})" if recon.get("lr_decay_at") else ""))
    return (f"Training: {cfg.get('generator') or 'the generator of the run configuration'}"
            f", {recon.get('image_size')}x{recon.get('image_size')} input, batch "
            f"{recon.get('batch_size')} objects (two views each), {recon.get('iterations')} "
            f"steps, Adam learning rate {recon.get('lr'):g}{decay}; sigma "
            f"{recon.get('sigma'):g} for the renderers that take one (preset "
            f"`{recon.get('preset')}`; the full configuration is in `run.json`)"
            + (". These are the preset's values: each renderer trained at the learning rate "
               "and sigma its sweep on val objects chose (*Per-renderer settings* below)."
               if (cfg.get("recon_tuning") or {}).get("steps") else "."))


# -- the report -------------------------------------------------------------------------
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
    tables = {k: read_table(results_dir, k) for k in
              ("fitting", "recon", "gradient_accuracy", "forward_fidelity", "ablations",
               "timing")}
    tables["recon_per_object"] = read_table(results_dir, "recon_per_object")
    fit_settings = {k: read_table(results_dir, k) for k in ("fit_choices", "fit_tuning",
                                                             "fit_targets")}
    empty = empty_tables({**tables, **fit_settings})
    for key in empty:  # their sections then say "no results"; _empty_section says why
        (tables if key in tables else fit_settings)[key] = None
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
    missing = missing_units(results_dir)
    if missing:
        doc.heading("Missing results")
        doc.text("These runs of the sweep have no results under the run directory (their "
                 "shard has not run or not finished); the tables below leave them out:")
        doc.code("\n".join(missing))
    nonfinite_section(doc, {**tables, **fit_settings})
    _empty_section(doc, empty, results_dir)
    families = read_families(results_dir)
    absent = absent_renderers(results_dir, run, families)
    synthesis.synthesis_section(doc, tables, logs, cfg)
    _recon_section(doc, tables["recon"], examples, run, logs, tables["recon_per_object"],
                   namer, absent)
    recon_tuning.recon_tuning_section(doc, read_table(results_dir, "recon_choices"),
                                      read_table(results_dir, "recon_tuning"), cfg)
    _fitting_section(doc, tables["fitting"], examples, fit_settings, cfg, absent)
    _ablation_section(doc, tables["ablations"], results_dir)
    _gradient_section(doc, tables["gradient_accuracy"], tables["forward_fidelity"], absent)
    _timing_section(doc, tables["timing"], results_dir, absent)
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
        stage, stem = TABLES[key]
        why = ""
        skipped = stage_dir(results_dir, "timing") / "timing_skipped.csv"
        if key == "timing" and skipped.is_file():
            n = len(read_table_file(skipped))
            why = f" (timing_skipped.csv lists {n} configurations over the cost cap)"
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
                                 "timing_notes.json")) or {}
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


def _absent_note(doc: Document, absent: dict[str, str]) -> None:
    """One sentence naming the renderers the job could not run (every section that lists
    renderers carries it)."""
    if absent:
        doc.text("Not in this section: " + "; ".join(f"`{k}` ({v})" for k, v in absent.items())
                 + " (optional renderers, absent on the machine that ran the job).")


def _families_section(doc: Document, families: list | None, absent: dict[str, str]) -> None:
    """The "renderer families" table: each renderer's forward model, gradient rule,
    sharpness parameter, options, source paper, cost class and the stages it ran in
    (from ``renderers.json``, written by the main job)."""
    doc.heading("Renderer families")
    _absent_note(doc, absent)
    if not families:
        doc.text("No renderer descriptions were saved with this run (`renderers.json`).")
        return
    doc.text("How each renderer gets a gradient through a silhouette, as it describes itself "
             "(`renderers.describe`): family `soft` (a smooth forward and its exact "
             "gradient), `approximate` (a hard forward with a hand-made gradient rule), "
             "`exact` (the true gradient of a hard forward: zero) or `estimator` (a hard "
             "forward and an estimate of the gradient of pixel coverage).")
    doc.table(pd.DataFrame(families), "renderer_families", "Renderer families")


def _missing(doc: Document, stage: str) -> None:
    doc.text(f"No results: the `{stage}` stage has not run (or its tables are missing or "
             "empty).")


def _with_convergence(table: pd.DataFrame, conv: pd.DataFrame | None) -> pd.DataFrame:
    """``table`` (columns ``renderer``, ``seed``) with each run's convergence ``status``
    and gain joined (``no curve`` where a run has none)."""
    if conv is None:
        return table.assign(convergence="no curve")
    c = conv[["renderer", "seed", "gain_last_quarter", "status"]].rename(
        columns={"status": "convergence"})
    out = table.merge(c.astype({"seed": "Int64"}), on=["renderer", "seed"], how="left")
    out["convergence"] = out["convergence"].fillna("no curve")
    return out


def _recon_runs(doc: Document, recon: pd.DataFrame, conv, metrics) -> None:
    """The per-seed table and the training-runs table, each run flagged."""
    seeds = seed_table(recon)
    n_seeds = int(seeds["seeds"].max()) if len(seeds) else 0
    doc.text("Seeds: the mean over categories of each training seed, and the mean and "
             "sample standard deviation across seeds. "
             + ("Only one seed was run, so no spread is measured: differences between "
                "renderers smaller than the seed spread of a multi-seed run "
                "(`--seeds 0,1,2`) are not evidence." if n_seeds < 2 else
                f"{n_seeds} seeds per renderer; read differences between renderers "
                f"against the `std` column (the bars show +-1 std across seeds)."))
    if conv is not None:
        status = conv.groupby("renderer").apply(
            lambda g: "; ".join(f"seed {s}: {t}" for s, t in zip(g["seed"], g["status"],
                                                                   strict=True)),
            include_groups=False)
        seeds["convergence"] = seeds["renderer"].map(status).fillna("")
    doc.table(seeds, "recon_seeds", "Mean voxel IoU per training seed", floatfmt=".4f")
    runs = (recon[recon["renderer"] != "template"]
            .groupby(["renderer", "seed"], dropna=False)
            [[c for c in ("iterations",) if c in recon.columns]].first().reset_index())
    if not len(runs):
        return
    if metrics is not None and len(metrics):
        wall = {k: summed_wall(g, "wall_s") for k, g in metrics.groupby(["renderer", "seed"])}
        runs["train_wall_s (all calls)"] = [wall.get((r, s), math.nan)
                                            for r, s in zip(runs["renderer"], runs["seed"],
                                                            strict=True)]
    elif "train_wall_s" in recon.columns:
        runs = runs.merge(recon.groupby(["renderer", "seed"], dropna=False)["train_wall_s"]
                          .first().reset_index(), on=["renderer", "seed"])
    doc.table(_with_convergence(runs, conv), "recon_runs",
              "Training runs (iterations, training wall time in seconds, convergence)", ".4g")


def _recon_section(doc: Document, recon, ex: dict, run, logs: dict, per_object,
                   namer: PathNamer, absent: dict[str, str]) -> None:
    doc.heading("Single-view reconstruction: voxel IoU (the paper's Table 1)")
    if recon is None:
        _missing(doc, "reconstruction")
        return
    _absent_note(doc, absent)
    curves = logs.get("curves")
    conv = run_convergence(curves) if curves is not None and len(curves) else None
    flags = unsettled(conv)
    doc.text(f"Mean voxel IoU (32^3 grid, every test object predicted from each of its 24 "
             f"views) on {describe_data(run, namer)}. The `paper:` columns are the numbers of Liu "
             f"et al. (2019), Table 1, on real ShapeNet (N3MR renderings, 24 views, 64x64): "
             f"they are the paper's, not results of this code, and only comparable when "
             f"this run used the ShapeNet files. `ours: template` is the undeformed "
             f"sphere (a floor)."
             + (" Columns marked `(still improving)` / `(still declining)` / "
                "`(undetermined)` come from runs whose validation IoU was still rising / "
                "falling at the end, or too noisy to show a plateau (see "
                "[Learning curves and convergence](#learning-curves-and-convergence))."
                if any(flags.values()) else ""))
    setup = training_setup(run)
    if setup:
        doc.text(setup)
    table = evidence.flag_columns(voxel_iou_table(recon), flags)
    doc.table(table, "recon_voxel_iou", "Voxel IoU per category and renderer", floatfmt=".4f")
    fig, data = figures.recon_iou_bars(recon[recon["renderer"] != "template"]
                                       if (recon["renderer"] != "template").any() else recon)
    doc.figure(png_bytes(fig), "recon_iou_bars", "Voxel IoU per category and renderer.", data)
    _recon_runs(doc, recon, conv, logs.get("metrics"))
    conv = evidence.recon_convergence(doc, curves, logs.get("metrics"))
    order = figures._order([r for r in recon["renderer"].unique() if r != "template"])
    evidence.paired_section(doc, per_object, order, conv, "recon_paired",
                            "reconstruction (test objects x views x seeds)")
    if ex.get("recon_classes") is not None and len(ex["recon_classes"]):
        fig, data = figures.recon_silhouettes(ex)
        doc.figure(png_bytes(fig), "recon_examples",
                   "Reconstructions from one image (input view) and seen from a novel view: "
                   "ground truth and each renderer's predicted mesh, drawn by the exact "
                   "`hard` renderer.", data)
        fig, _ = figures.recon_meshes(ex)
        doc.figure(png_bytes(fig), "recon_meshes", "The predicted meshes of these examples.")


def _fitting_section(doc: Document, fit, ex: dict, settings: dict, cfg: dict,
                     absent: dict[str, str]) -> None:
    doc.heading("Mesh fitting")
    if fit is None:
        _missing(doc, "fitting")
        return
    _absent_note(doc, absent)
    doc.text("The 642-vertex sphere is deformed by Adam on the IoU loss of its silhouettes "
             "(plus Laplacian and flattening terms) against the target's 24 benchmark "
             "silhouettes; voxel IoU and the hard silhouette IoU are recorded along the "
             "way. The `hard` renderer has zero gradients, so its curve stays at the "
             "sphere (a control).")
    tuning.tuning_section(doc, settings.get("fit_choices"), settings.get("fit_tuning"),
                          settings.get("fit_targets"), cfg)
    conv = evidence.fitting_convergence(fit)
    final = fitting_final_table(fit).merge(
        conv[["shape", "renderer", "status"]].rename(columns={"status": "convergence"}),
        on=["shape", "renderer"], how="left")
    doc.table(final, "fitting_final", "Final step of each fit (`convergence`: voxel-IoU "
              "gain over the last quarter of the steps vs the threshold below)", ".4f")
    fig, data = figures.fitting_curves(fit)
    doc.figure(png_bytes(fig), "fitting_curves", "IoU vs optimisation step (mean over "
               "seeds, range across seeds as a band).", data)
    order = figures._order(fit["renderer"].unique())
    evidence.fitting_evidence(doc, fit, order)
    if ex.get("fit_shapes") is not None and len(ex["fit_shapes"]):
        fig, data = figures.fitting_silhouettes(ex)
        doc.figure(png_bytes(fig), "fitting_silhouettes",
                   "Target silhouettes and the fitted meshes (drawn by `hard`).", data)
        fig, _ = figures.fitted_meshes(ex)
        doc.figure(png_bytes(fig), "fitting_meshes", "The fitted meshes.")


def ablation_table(abl: pd.DataFrame) -> pd.DataFrame:
    """The ablation fits in display order: baseline, the sigma sweep (by sigma), then the
    switched-off terms, fewer views and the colour fit; the columns of
    :data:`bench_softras.experiments.fitting.ABLATION_COLUMNS` without shape/renderer."""
    order = {"baseline": 0, "sigma": 1, "no laplacian": 2, "no flatten": 3, "color": 5}
    out = abl.copy()
    out["_v"] = out["variant"].map(lambda v: order.get(v, 4))
    out = out.sort_values(["_v", "sigma", "num_views"]).drop(columns="_v")
    keep = [c for c in out.columns if c not in ("shape", "renderer")]
    return out[keep].reset_index(drop=True)


def color_sentence(abl: pd.DataFrame) -> str:
    """What the ``color`` row of the ablations shows, generated from its numbers: the
    geometry against the ``baseline`` row (equal, or the difference stated) and the
    colour error before and after the fit."""
    row = abl[abl["variant"] == "color"].iloc[0]
    base = abl[abl["variant"] == "baseline"]
    geometry = ""
    if len(base):
        b = base.iloc[0]
        dv, ds = row["voxel_iou"] - b["voxel_iou"], row["silhouette_iou"] - b["silhouette_iou"]
        geometry = (" Its IoUs equal the baseline's (voxel "
                    f"{row['voxel_iou']:.4f}, silhouette {row['silhouette_iou']:.4f}): the "
                    "colour loss leaves the geometry as it was." if dv == 0 and ds == 0 else
                    f" Its IoUs differ from the baseline's by {dv:+.4f} (voxel) and "
                    f"{ds:+.4f} (silhouette): the geometry of the two fits is not the same "
                    "(run-to-run differences of the renderer's parallel sums; see "
                    "docs/running.md, \"Seeds and reproducibility\").")
    start, end = row["color_mse_start"], row["color_mse"]
    change = ("falls from" if end < start else "does not fall: from")
    return (f"Colour reconstruction (Sec. 4 of the paper), the `color` row: the same fit "
            f"also learns per-vertex colours from an l2 image loss (weight "
            f"{row['color_weight']:g}) against the target's shaded renderings, drawn by the "
            f"shared colour pass (`renderers.render_vertex_colors`: z-buffer visibility, "
            f"perspective-correct interpolation), which gives gradients to the colours "
            f"only, so the geometry learns from the silhouettes alone.{geometry} Colour MSE "
            f"over the pixels the target or the fit covers, all 24 views, {change} "
            f"{start:.4f} (the mid-grey start) to {end:.4f} after the fit"
            + ("; vertex colours cannot reproduce the target's view-dependent (headlight) "
               "shading, so it stays above zero." if end > 0 else "."))


def _ablation_section(doc: Document, abl, results_dir: Path) -> None:
    doc.heading("Ablations (mesh fitting, softras)")
    if abl is None:
        _missing(doc, "ablations")
        return
    shape = ", ".join(f"`{s}`" for s in abl["shape"].unique())
    renderer = ", ".join(f"`{r}`" for r in abl["renderer"].unique())
    doc.text(f"The paper's ablations, run cheaply as mesh fits of one target ({shape}) with "
             f"{renderer} instead of reconstruction training: the fitting configuration "
             f"of the run (`baseline`) with sigma swept (`sigma`), without the Laplacian "
             f"term, without the flattening term, trained on fewer evenly spaced "
             f"views than the data set's 24, and on more (`num_views` > 24: the 24 plus "
             f"views from below, elevation -30, which the benchmark renderings never "
             f"show; the paper's Fig. 8 remedy for flat parts). Final voxel IoU and hard "
             f"silhouette IoU over the 24 benchmark views; `wall_s`: optimisation "
             f"seconds of the fit.")
    doc.table(ablation_table(abl), "ablations", "Ablations: final IoU of each fit", ".4g")
    fig, data = figures.ablation_bars(abl)
    doc.figure(png_bytes(fig), "ablation_iou",
               "Final IoU vs sigma (left; the baseline included at its sigma) and per "
               "variant at the baseline sigma (right).", data)
    color = abl[abl["variant"] == "color"] if "variant" in abl else abl.iloc[:0]
    if len(color):
        doc.text(color_sentence(abl))
        npz = run_file(results_dir, stage_dir(results_dir, "ablations") / "color_views.npz")
        if npz.exists():
            with np.load(npz) as z:
                fig, data = figures.color_views(z["views"], z["target"], z["fitted"])
            doc.figure(png_bytes(fig), "color_fit",
                       "Colour reconstruction: the target's shaded renderings and the fitted "
                       "vertex colours (colour pass of the fitted mesh).", data)


def _gradient_section(doc: Document, grad, fid, absent: dict[str, str]) -> None:
    doc.heading("Gradient accuracy and forward fidelity vs sigma")
    if grad is None and fid is None:
        _missing(doc, "gradients")
        return
    _absent_note(doc, absent)
    if grad is not None:
        doc.text("Each renderer's gradient of several silhouette losses w.r.t. the vertices, "
                 "compared with the finite-difference gradient of the exact pixel coverage "
                 "(`metrics.gradient_accuracy`): cosine similarity, sign agreement, relative "
                 "L2 error, averaged over scenes. Renderers without a sigma appear once "
                 "(blank sigma) and as dashed lines.")
        doc.table(gradient_summary(grad), "gradient_accuracy_summary",
                  "Gradient accuracy (mean over scenes)", ".3g")
        fig, data = figures.gradient_accuracy(grad)
        doc.figure(png_bytes(fig), "gradient_accuracy", "Gradient accuracy vs sigma.", data)
    if fid is not None:
        doc.text("Forward fidelity: mean absolute difference of the rendered silhouette to the "
                 "exact pixel coverage (`mad_exact`) and to the hard silhouette "
                 "(`mad_hard`), and IoU after thresholding at 0.5.")
        doc.table(fidelity_summary(fid), "forward_fidelity_summary",
                  "Forward fidelity (mean over scenes)", ".3g")
        fig, data = figures.forward_fidelity(fid)
        doc.figure(png_bytes(fig), "forward_fidelity", "Forward fidelity vs sigma.", data)


def _timing_section(doc: Document, timing, results_dir: Path,
                    absent: dict[str, str]) -> None:
    doc.heading("Timing and scaling")
    if timing is None:
        _missing(doc, "timing")
        return
    _absent_note(doc, absent)
    notes = read_record(run_file(results_dir, stage_dir(results_dir, "timing") /
                                 "timing_notes.json")) or {}
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
    skipped_path = run_file(results_dir, stage_dir(results_dir, "timing") / "timing_skipped.csv")
    if skipped_path.is_file():
        skipped = pd.read_csv(skipped_path)
        if len(skipped):
            who = ", ".join(f"`{n}`" for n in sorted(skipped["renderer"].unique()))
            doc.text(f"{len(skipped)} configurations were skipped: over the cost cap "
                     f"(`max_dense_pairs`) of the costly renderers ({who}); listed in "
                     "`data/timing_skipped.csv`.")
            doc.data["timing_skipped"] = skipped


def _environment_section(doc: Document, results_dir: Path, run, env, metrics,
                         namer: PathNamer) -> None:
    doc.heading("Environment, configuration, wall time")
    doc.table(environment_table(env, namer), "environment", "Environment of the run")
    stages = stage_table(results_dir, run, metrics)
    if len(stages):
        doc.table(stages, "stages", "Stages: status in the last call and wall time (s) of "
                                    "the call that finished them; `train_s, all calls`: "
                                    "training seconds of every reconstruction run summed "
                                    "over all calls, resumed ones included", ".1f")
    if run:
        seeds = (run.get("config") or {}).get("seeds")
        doc.text(f"Seeds: {seeds}. Full configuration (`run.json`; absolute paths named "
                 f"relative to the run's roots: `{RESULTS_ROOT}` and the like):")
        doc.code(json.dumps(namer.scrub(run.get("config")), indent=2, default=str))
