"""Report sections that carry the evidence behind each comparison: learning curves
and convergence flags, the cost of validation, and the paired comparisons with their
generated verdicts (reconstruction and fitting)."""

from __future__ import annotations

import pandas as pd

from . import figures
from .document import Document, png_bytes
from .stats import (
    BOOTSTRAP_SAMPLES,
    CONDITIONAL,
    CONDITIONAL_POOLED,
    CONFIDENCE,
    CROSSED,
    CROSSED_POOLED,
    MIN_SEEDS,
    per_object_means,
)
from .verdicts import (
    convergence_sentence,
    fitting_per_object,
    flag_words,
    paired_table,
    run_convergence,
    threshold_sentence,
    unsettled,
    validation_cost,
    verdict_sentences,
)


def flag_columns(table: pd.DataFrame, flags: dict[str, dict],
                 prefix: str = "ours: ") -> pd.DataFrame:
    """``table`` with ``<prefix><renderer>`` columns renamed ``... (still improving)``
    (or ``still declining``) for renderers with such a run (``flags``:
    :func:`~bench_softras.report.verdicts.unsettled`)."""
    ren = {f"{prefix}{r}": f"{prefix}{r} ({flag_words(s)})" for r, s in flags.items() if s}
    return table.rename(columns=ren)


def recon_convergence(doc: Document, curves: pd.DataFrame | None,
                      metrics: pd.DataFrame | None) -> pd.DataFrame | None:
    """Learning curves, convergence table and validation cost; returns the convergence
    table (``None`` without curves)."""
    doc.heading("Learning curves and convergence", level=3)
    if curves is None or curves.empty:
        doc.text("No learning curves: the runs recorded no validation (`curve.jsonl`; "
                 "runs trained before validation curves existed, or `val_every = 0`).")
        return None
    n_obj = int(curves["val_objects"].iloc[-1]) if "val_objects" in curves else "?"
    n_views = int(curves["val_views"].iloc[-1]) if "val_views" in curves else "?"
    doc.text(f"Validation during training: voxel IoU and silhouette IoU (the prediction "
             f"drawn by `hard` in the input view against the input's alpha) on a fixed "
             f"subset of the `val` split ({n_obj} objects, {n_views} views each), with "
             f"the training loss per log step. Lines: mean over seeds; band: the range "
             f"across seeds. " + threshold_sentence())
    fig, data = figures.learning_curves(curves, metrics)
    doc.figure(png_bytes(fig), "learning_curves",
               "Validation IoU and training loss vs step, per renderer.", data)
    conv = run_convergence(curves)
    doc.table(conv, "recon_convergence", "Convergence of each reconstruction run "
              "(validation voxel IoU)", ".4f")
    doc.text(convergence_sentence(conv))
    cost = validation_cost(curves)
    total = 100 * cost["val_s"].sum() / cost["train_s"].sum() if len(cost) else float("nan")
    doc.text(f"Validation cost: {cost['val_s'].sum():.1f} s of validation for "
             f"{cost['train_s'].sum():.1f} s of training ({total:.1f}% over all runs; "
             f"training time summed over resumed calls).")
    doc.table(cost, "recon_validation_cost", "Time spent validating, per run", ".2f")
    return conv


def _pooled_text(table: pd.DataFrame) -> str:
    """The collapsed-strata sentence, when some ``overall`` row of ``table`` pooled its
    categories (else empty), with the counts of those rows."""
    rows = table[table["method"].isin([CROSSED_POOLED, CONDITIONAL_POOLED])]
    if rows.empty:
        return ""
    cats = ", ".join(str(int(n)) for n in sorted(rows["n_categories"].unique()))
    return (f" Where every category of a pair has a single object ({cats} categories), "
            f"nothing "
            f"within a category measures the between-object variance: the `overall` "
            f"rows pool the categories into one stratum (`method` `{CROSSED_POOLED}` or "
            f"`{CONDITIONAL_POOLED}`) and estimate that variance across the categories "
            f"(collapsed strata). It then also carries the spread between the category "
            f"means, so these intervals are conservative (wider than stratified ones "
            f"would be); a category's own row has no CI.")


def _ci_text(table: pd.DataFrame) -> str:
    return (f"Paired comparison: renderers are compared on the same test objects, views "
            f"and seeds. `difference` is the mean over objects (and seeds) of the "
            f"per-object difference in voxel IoU, `a - b`, each object's difference "
            f"averaged over its views; `overall` is the mean over categories. With at "
            f"least {MIN_SEEDS} seeds the {CONFIDENCE:.0%} CI (`method` `{CROSSED}`) "
            f"treats seeds and objects as crossed random samples: a t interval on the "
            f"between-seed variance of the per-seed means plus the between-object "
            f"variance of the per-object means (stratified by category), with "
            f"Satterthwaite's degrees of freedom (`df`); it covered the true difference "
            f"93-97% of the time at 3 and 5 seeds in a simulation sized like these runs "
            f"(docs/statistics.md). Verdict: `ahead` when the whole CI lies above 0, "
            f"`behind` when below, `tie` when it includes 0. With fewer seeds the "
            f"between-seed spread is not measured: the CI (`{CONDITIONAL}`) is the "
            f"percentile interval of {BOOTSTRAP_SAMPLES} bootstrap resamples of the "
            f"objects, stratified by category, with the seeds held fixed, so it holds "
            f"only for the seeds that ran, and the verdict is `indicative`. The "
            f"sentences below are generated from the table; the per-object IoUs behind "
            f"it are in the data (`*_per_object.csv`), to recompute any row."
            + _pooled_text(table))


def paired_section(doc: Document, per_object: pd.DataFrame | None, order: list[str],
                   conv: pd.DataFrame | None, name: str, what: str) -> None:
    """The paired-CI table and its verdict sentences for ``per_object`` results; the
    per-object means over views are saved as ``data/<stem>_per_object.csv`` (``name``
    ``<stem>_paired``)."""
    doc.heading(f"Paired comparisons: {what}", level=3)
    if per_object is not None and not per_object.empty:  # the data, even with one renderer
        doc.data[name.removesuffix("_paired") + "_per_object"] = per_object_means(per_object)
    if per_object is None or per_object.empty or per_object["renderer"].nunique() < 2:
        doc.text("No paired comparison: per-object results of at least two renderers are "
                 "needed (runs evaluated before per-object results were saved lack them).")
        return
    # Pairs read later-declared first (``softras`` vs ``n3mr``, ``n3mr`` vs ``hard``).
    table = paired_table(per_object, list(reversed(order)), unsettled(conv))
    doc.text(_ci_text(table))
    for sentence in verdict_sentences(table):
        doc.text("- " + sentence)
    doc.table(table, name, f"Paired differences in voxel IoU with {CONFIDENCE:.0%} "
              f"CIs ({what})", ".4f")


def fitting_convergence(fit: pd.DataFrame) -> pd.DataFrame:
    """Convergence of each fit from its recorded voxel IoU."""
    return run_convergence(fit, "voxel_iou", ("shape", "renderer", "seed"))


def fitting_evidence(doc: Document, fit: pd.DataFrame, order: list[str]) -> None:
    """Convergence of the fits and their paired comparison (targets as objects)."""
    conv = fitting_convergence(fit)
    doc.text(threshold_sentence("recorded voxel IoU").replace("A run", "A fit"))
    doc.table(conv, "fitting_convergence", "Convergence of each fit (voxel IoU vs step)",
              ".4f")
    per = fitting_per_object(fit)
    paired_section(doc, per, order, conv, "fitting_paired", "mesh fitting (final voxel "
                   "IoU; the targets are the objects)")
