"""The report's section of the ``reconstruction`` stage: voxel IoU per category and
renderer beside the paper's Table 1, the seeds, the training runs and their
convergence, the paired comparison, the examples and the settings sweep
(:mod:`bench_softras.report.recon_tuning`)."""

from __future__ import annotations

import math

import pandas as pd

from bench_softras import results_schema as schema

from .. import evidence, figures, recon_tuning
from ..document import Document, png_bytes
from ..order import ordered as _ordered
from ..paper import paper_table1
from ..paths import PathNamer
from ..results import RECON
from ..summary import describe_data
from ..verdicts import run_convergence, summed_wall, unsettled
from .base import ReportInputs, absent_note, missing

STAGE = "reconstruction"


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


def _section(doc: Document, recon, ex: dict, run, logs: dict, per_object,
             namer: PathNamer, absent: dict[str, str]) -> None:
    doc.heading("Single-view reconstruction: voxel IoU (the paper's Table 1)")
    if recon is None:
        missing(doc, "reconstruction")
        return
    absent_note(doc, absent)
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


def render(doc: Document, inp: ReportInputs) -> None:
    """The reconstruction section, then the settings each renderer trained with."""
    _section(doc, inp.tables.get(RECON), inp.examples, inp.run, inp.logs,
             inp.tables.get(schema.RECON_PER_OBJECT), inp.namer, inp.absent)
    recon_tuning.recon_tuning_section(doc, inp.tables.get(schema.RECON_CHOICES),
                                      inp.tables.get(schema.RECON_TUNING), inp.cfg)
