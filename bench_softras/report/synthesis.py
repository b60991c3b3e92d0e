"""The synthesis: one row per renderer across every study (gradient accuracy, forward
fidelity, cost, fitting and reconstruction IoU), the rank correlation between gradient
accuracy and reconstruction IoU, and generated sentences answering "does a better
gradient buy better reconstruction, and at what cost?".  Reads only saved tables.

Each renderer with a sharpness parameter is read at one sigma (:func:`chosen_sigma`:
the reconstruction runs' sigma, else the timing study's base sigma), the value of its
sweep nearest to it on a log scale; renderers without one have a blank sigma.
"""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench_softras import results_schema as schema

from . import figures
from .document import Document, png_bytes
from .results import RECON
from .stats import CONFIDENCE, paired_estimates, verdict_word
from .verdicts import fitting_per_object, summed_wall, validation_cost

#: Columns of :func:`synthesis_table` (one row per renderer).
COLUMNS = ["renderer", "sigma", "grad_cosine", "grad_rel_error", "fwd_mad_exact",
           "fwd_sil_iou", "train_step_s", "fwd_bwd_s", "fit_iou", "fit_targets",
           "recon_iou", "recon_low", "recon_high", "recon_interval", "recon_seeds"]
#: Up to this many renderers the rank correlation's p-value is exact (all permutations).
EXACT_PERMUTATIONS = 8
#: Below this many renderers a rank correlation is not evidence either way.
FEW_RENDERERS = 5


def chosen_sigma(cfg: dict, timing: pd.DataFrame | None) -> float:
    """The sigma the synthesis reads sweeps at: the reconstruction configuration's, else
    the timing study's most common one, else NaN (each renderer's median)."""
    sigma = ((cfg or {}).get("recon") or {}).get("sigma")
    if sigma:
        return float(sigma)
    if timing is not None and timing["sigma"].notna().any():
        return float(timing["sigma"].dropna().mode().iloc[0])
    return math.nan


def at_sigma(df: pd.DataFrame, sigma: float) -> pd.DataFrame:
    """Rows of ``df`` (columns ``renderer``, ``sigma``) at each renderer's sweep value
    nearest ``sigma`` on a log scale (its median without ``sigma``); renderers without
    a sigma keep their rows."""
    keep = []
    for _, g in df.groupby("renderer", sort=False):
        s = g["sigma"].dropna().unique()
        if not s.size:
            keep.append(g)
            continue
        target = np.median(s) if math.isnan(sigma) else sigma
        best = s[np.argmin(np.abs(np.log(s) - np.log(target)))]
        keep.append(g[np.isclose(g["sigma"], best)])
    return pd.concat(keep) if keep else df.iloc[:0]


def _per_renderer(df: pd.DataFrame | None, sigma: float, cols: dict[str, str]) -> pd.DataFrame:
    """Per renderer: the mean of each ``cols`` key (named by its value) at ``sigma``."""
    if df is None or df.empty:
        return pd.DataFrame(columns=["renderer", "sigma", *cols.values()])
    have = {k: v for k, v in cols.items() if k in df}
    sel = at_sigma(df, sigma)
    out = sel.groupby("renderer")[list(have)].mean().rename(columns=have)
    out["sigma"] = sel.groupby("renderer")["sigma"].first()
    return out.reset_index()


def step_seconds(curves: pd.DataFrame | None, metrics: pd.DataFrame | None) -> pd.Series:
    """Seconds per reconstruction training step per renderer (mean over seeds): training
    seconds over all calls (validation excluded when curves record it) / last step."""
    rows = {}
    if curves is not None and "train_s" in curves:
        cost = validation_cost(curves).set_index(["renderer", "seed"])["train_s"]
        steps = curves.groupby(["renderer", "seed"])["step"].max()
        rows = (cost / steps.reindex(cost.index)).groupby(level="renderer").mean().to_dict()
    elif metrics is not None and len(metrics):
        for (r, _), g in metrics.groupby(["renderer", "seed"]):
            rows.setdefault(r, []).append(summed_wall(g.sort_index(), "wall_s") / g["step"].max())
        rows = {r: float(np.mean(v)) for r, v in rows.items()}
    return pd.Series(rows, name="train_step_s", dtype=np.float64)


def fwd_bwd_seconds(timing: pd.DataFrame | None, sigma: float) -> pd.Series:
    """Forward+backward seconds per call at the timing study's base point (most common
    faces, image size and batch) and ``sigma``, per renderer."""
    if timing is None or timing.empty:
        return pd.Series(name="fwd_bwd_s", dtype=np.float64)
    t = timing[timing["pass"] == "forward+backward"]
    for k in ("faces", "image_size", "batch"):
        t = t[t[k] == t[k].mode().iloc[0]]
    return at_sigma(t, sigma).groupby("renderer")["time_s"].median().rename("fwd_bwd_s")


def recon_columns(per_object: pd.DataFrame | None, recon: pd.DataFrame | None) -> pd.DataFrame:
    """Per reconstructed renderer: voxel IoU (mean over categories and seeds) and its
    interval from the per-object results (the report's paired method with one
    renderer), else the category means without an interval."""
    rows = []
    if per_object is not None and len(per_object):
        for r in per_object["renderer"].unique():
            e = paired_estimates(per_object, r, None)["overall"]
            rows.append({"renderer": r, "recon_iou": e.estimate, "recon_low": e.low,
                         "recon_high": e.high, "recon_seeds": e.n_seeds,
                         "recon_interval": ("none" if verdict_word(e) == "no CI" else
                                            "seeds x objects" if verdict_word(e) != "indicative"
                                            else f"conditional on seed(s) {e.seeds}")})
    elif recon is not None and len(recon):
        mean = recon.groupby(["renderer", "class_id"])["voxel_iou"].mean().groupby("renderer")
        for r, v in mean.mean().items():
            rows.append({"renderer": r, "recon_iou": v, "recon_interval": "none"})
    return pd.DataFrame(rows, columns=["renderer", "recon_iou", "recon_low", "recon_high",
                                       "recon_interval", "recon_seeds"])


def synthesis_table(tables: dict, logs: dict, cfg: dict) -> pd.DataFrame:
    """One row per renderer (:data:`COLUMNS`) from the saved tables (``tables`` as read
    by :mod:`.build`: ``gradient_accuracy``, ``forward_fidelity``, ``timing``,
    ``fitting``, ``recon``, ``recon_per_object``) and run logs (``curves``,
    ``metrics``)."""
    sigma = chosen_sigma(cfg, tables.get(schema.TIMING))
    grad = _per_renderer(tables.get(schema.GRADIENT_ACCURACY), sigma,
                         {"cosine": "grad_cosine", "rel_l2": "grad_rel_error"})
    fid = _per_renderer(tables.get(schema.FORWARD_FIDELITY), sigma,
                        {"mad_exact": "fwd_mad_exact", "sil_iou": "fwd_sil_iou"})
    out = grad.merge(fid, on="renderer", how="outer", suffixes=("", "_fid"))
    out["sigma"] = out["sigma"].fillna(out.pop("sigma_fid"))
    fit = tables.get(schema.FITTING)
    if fit is not None and len(fit):
        per = fitting_per_object(fit).groupby("renderer")
        out = out.merge(pd.DataFrame({"fit_iou": per["voxel_iou"].mean(),
                                      "fit_targets": per["object"].nunique()}).reset_index(),
                        on="renderer", how="outer")
    out = out.merge(recon_columns(tables.get(schema.RECON_PER_OBJECT), tables.get(RECON)),
                    on="renderer", how="outer")
    out = out[out["renderer"] != "template"]
    out["train_step_s"] = out["renderer"].map(step_seconds(logs.get("curves"),
                                                           logs.get("metrics")))
    out["fwd_bwd_s"] = out["renderer"].map(fwd_bwd_seconds(tables.get(schema.TIMING), sigma))
    out = out.reindex(columns=COLUMNS)
    order = {n: i for i, n in enumerate(figures._order(list(out["renderer"])))}
    return out.sort_values("renderer", key=lambda s: s.map(order)).reset_index(drop=True)


def spearman(x: pd.Series, y: pd.Series) -> tuple[float, int, float]:
    """``(rho, n, p)``: Spearman's rank correlation of the pairs where both are known
    (average ranks for ties), with the two-sided permutation p-value, exact over every
    permutation up to :data:`EXACT_PERMUTATIONS` pairs (NaN beyond, and with n < 3)."""
    ok = x.notna() & y.notna()
    rx, ry = x[ok].rank().to_numpy(), y[ok].rank().to_numpy()
    n = int(ok.sum())
    if n < 3 or rx.std() == 0 or ry.std() == 0:
        return math.nan, n, math.nan
    rho = float(np.corrcoef(rx, ry)[0, 1])
    if n > EXACT_PERMUTATIONS:
        return rho, n, math.nan
    perms = np.array(list(itertools.permutations(ry)))
    null = np.array([np.corrcoef(rx, p)[0, 1] for p in perms])
    return rho, n, float(np.mean(np.abs(null) >= abs(rho) - 1e-12))


def _iou(row) -> str:
    ci = (f", {CONFIDENCE:.0%} CI [{row.recon_low:.4f}, {row.recon_high:.4f}]"
          if pd.notna(row.recon_low) else "")
    return f"IoU {row.recon_iou:.4f}{ci}"


def gradient_sentence(table: pd.DataFrame) -> str:
    """Does a better gradient buy better reconstruction: the rank correlation of
    gradient cosine and reconstruction IoU with its n, p and a note when n is small."""
    rho, n, p = spearman(table["grad_cosine"], table["recon_iou"])
    if math.isnan(rho):
        return (f"Does a better gradient buy better reconstruction? Not measurable here: "
                f"{n} renderer(s) have both a gradient-accuracy and a reconstruction "
                f"result with differing values (at least 3 are needed).")
    out = (f"Does a better gradient buy better reconstruction? Across the {n} renderers "
           f"with both results, Spearman's rank correlation between gradient cosine "
           f"(against finite differences of exact coverage) and reconstruction voxel "
           f"IoU is {rho:+.2f}" + (f" (exact permutation p = {p:.2f})" if pd.notna(p) else ""))
    if n < FEW_RENDERERS:
        return out + (f". With n = {n} renderers a rank correlation is not evidence either "
                      f"way (the smallest p an exact test can reach is "
                      f"{2 / math.factorial(n):.2f}); it only describes these {n}.")
    if pd.notna(p) and p < 1 - CONFIDENCE:
        return out + (": renderers with more accurate gradients reconstructed "
                      + ("better." if rho > 0 else "worse."))
    return out + ": no clear relation between gradient accuracy and reconstruction IoU."


def _time_column(rec: pd.DataFrame) -> tuple[str, str]:
    if rec["train_step_s"].notna().all():
        return "train_step_s", "per training step"
    return "fwd_bwd_s", "per forward+backward call (timing study; no step time saved)"


def cost_sentence(table: pd.DataFrame, per_object: pd.DataFrame | None) -> str:
    """At what cost: the best-reconstructing renderer's time against the cheapest
    reconstructed one's, and whether the paired comparison resolves their gap."""
    rec = table.dropna(subset=["recon_iou"])
    col, unit = _time_column(rec)
    rec = rec.dropna(subset=[col])
    if len(rec) < 2:
        return ("At what cost: fewer than two reconstructed renderers have a time, so "
                "no cost comparison.")
    best = rec.loc[rec["recon_iou"].idxmax()]
    fast = rec.loc[rec[col].idxmin()]
    if best.renderer == fast.renderer:
        return (f"At what cost: `{best.renderer}` reconstructs best ({_iou(best)}) and is "
                f"also the cheapest reconstructed renderer, {best[col]:.3g} s {unit}.")
    out = (f"At what cost: the best reconstruction, `{best.renderer}` ({_iou(best)}), "
           f"takes {best[col]:.3g} s {unit}, {best[col] / fast[col]:.2g}x the cheapest, "
           f"`{fast.renderer}` ({fast[col]:.3g} s, {_iou(fast)})")
    e = (paired_estimates(per_object, best.renderer, fast.renderer).get("overall")
         if per_object is not None and len(per_object) else None)
    if e is None:
        return out + "."
    word = verdict_word(e)
    what = {"ahead": "a gap the paired comparison resolves",
            "tie": "a gap the paired comparison does not resolve (tie)",
            "indicative": "a gap that is indicative only (too few seeds for a verdict)",
            "no CI": "a gap without an interval"}.get(word, word)
    return out + (f"; paired difference {e.estimate:+.4f} [{e.low:+.4f}, {e.high:+.4f}]: "
                  f"{what}.")


def _time_axis(ax, seconds: pd.Series) -> None:
    """Seconds on ``ax``'s x axis: a log scale when they span more than a decade (labels
    at the decades only: minor labels crowd each other), else linear."""
    pos = seconds[seconds > 0]
    if len(pos) and pos.max() / pos.min() > 10:
        figures._log_axis(ax, "x")


def synthesis_figure(table: pd.DataFrame):
    """Three panels, one point per renderer (colour; legend below the panels):
    reconstruction IoU (with its interval) and fitting IoU against gradient cosine, and
    reconstruction (else fitting) IoU against time (:func:`_time_axis`).  The figure is ``None``
    when no renderer has both coordinates of any panel."""
    names = list(table["renderer"])
    palette = figures._palette(names)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    rec = table["recon_iou"].notna().any()
    time_col = "train_step_s" if table["train_step_s"].notna().any() else "fwd_bwd_s"
    y3 = "recon_iou" if rec else "fit_iou"
    panels = (("grad_cosine", "recon_iou", "gradient cosine vs finite differences",
               "reconstruction voxel IoU"),
              ("grad_cosine", "fit_iou", "gradient cosine vs finite differences",
               "fitting voxel IoU"),
              (time_col, y3, "s per training step" if time_col == "train_step_s"
               else "s per forward+backward", y3.replace("_iou", " voxel IoU")
               .replace("recon", "reconstruction").replace("fit", "fitting")))
    for ax, (x, y, xl, yl) in zip(axes, panels, strict=True):
        for row in table.itertuples(index=False):
            xv, yv = getattr(row, x), getattr(row, y)
            if pd.isna(xv) or pd.isna(yv):
                continue
            err = None
            if y == "recon_iou" and pd.notna(row.recon_low):
                err = [[yv - row.recon_low], [row.recon_high - yv]]
            ax.errorbar(xv, yv, yerr=err, fmt="o", ms=7, capsize=3,
                        color=palette[row.renderer], label=row.renderer)
        if x == time_col:
            _time_axis(ax, table[x])
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    if not handles:  # no renderer has both coordinates of any panel
        plt.close(fig)
        return None, table
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 6),
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08 * math.ceil(len(handles) / 6) + 0.04, 1, 1))
    return fig, table


def synthesis_section(doc: Document, tables: dict, logs: dict, cfg: dict) -> None:
    """The synthesis section: table, figure and generated sentences (see the module)."""
    doc.heading("Synthesis: gradient, fidelity, cost and IoU per renderer")
    table = synthesis_table(tables, logs, cfg)
    if table.empty:
        doc.text("No synthesis: none of the studies it draws on has results.")
        return
    sigma = chosen_sigma(cfg, tables.get(schema.TIMING))
    doc.text(f"One row per renderer, from the saved tables of every stage: gradient "
             f"cosine and relative L2 error against finite differences of the exact "
             f"pixel coverage (gradients study, mean over scenes and losses), forward "
             f"fidelity (mean absolute difference to the exact coverage, silhouette IoU), "
             f"seconds per reconstruction training step (training time over all calls, "
             f"validation excluded, / steps; mean over seeds) and per forward+backward call "
             f"at the timing study's base point, final fitting voxel IoU (mean over "
             f"targets), and reconstruction voxel IoU (mean over categories and seeds) "
             f"with its {CONFIDENCE:.0%} interval (`recon_interval`: how it was formed, "
             f"as in the paired comparisons). Renderers with a sharpness parameter are "
             f"read at the sweep value nearest sigma = {sigma:g} (`sigma`). Blank: the "
             f"renderer did not run in that study.")
    doc.text(gradient_sentence(table))
    doc.text(cost_sentence(table, tables.get(schema.RECON_PER_OBJECT)))
    doc.table(table, "synthesis", "Synthesis: one row per renderer", ".4g")
    fig, _ = synthesis_figure(table)
    if fig is None:
        doc.text("No synthesis figure: no renderer has both an IoU and a gradient "
                 "accuracy or a time in this run's results.")
        return
    doc.figure(png_bytes(fig), "synthesis",
               "Reconstruction and fitting IoU against gradient accuracy, and against "
               "time, one point per renderer (bars: the reconstruction interval); the "
               "numbers are the synthesis table's.")
