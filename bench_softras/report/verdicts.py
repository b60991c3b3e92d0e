"""The report's evidence tables: convergence of each run, time spent validating, and
the paired renderer comparisons with their generated verdict sentences
(:mod:`bench_softras.report.stats` holds the statistics).  Everything here reads saved
results (tidy tables) and returns DataFrames, so the data behind every sentence is
saved beside the report."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd

from .stats import (
    CONFIDENCE,
    FLAT_FLOOR,
    FLAT_FRACTION,
    LAST_FRACTION,
    MIN_GAIN,
    MIN_WINDOW_POINTS,
    PairedEstimate,
    convergence,
    paired_estimates,
    verdict,
    verdict_word,
)

#: Columns of :func:`paired_table`.
PAIRED_COLUMNS = ["a", "b", "category", "difference", "ci_low", "ci_high", "method", "df",
                  "n_objects", "n_categories", "n_seeds", "seeds", "verdict", "caution"]


def threshold_sentence(what: str = "validation voxel IoU") -> str:
    """The documented convergence rule, for the report (``what``: the curve judged)."""
    return (f"A run is flagged **still improving** when its {what} rose "
            f"over the last {LAST_FRACTION:.0%} of its steps (at least the last "
            f"{MIN_WINDOW_POINTS} recorded points) by more than the curve's own noise "
            f"allows: the gain (least-squares slope over that window times its length) "
            f"exceeds its margin, the larger of the {CONFIDENCE:.0%} t quantile times "
            f"the gain's standard error (from the scatter of the window's points about "
            f"the line) and {MIN_GAIN:g} IoU (`bench_softras.report.stats.MIN_GAIN`, "
            f"below which a change is immaterial); **still declining** when it fell by "
            f"more than its margin. It is **plateaued** only when even the far end of the "
            f"gain's interval (|gain| + margin) is at most {FLAT_FRACTION:.0%} of the "
            f"curve's whole rise (at least {FLAT_FLOOR:g} IoU); otherwise "
            f"**undetermined**: the curve is too noisy or too sparsely recorded to tell. "
            f"Any flag but plateaued means its numbers are not final, and a longer run "
            f"may change the comparison.")


def run_convergence(curves: pd.DataFrame, value: str = "val_voxel_iou",
                    keys: tuple[str, ...] = ("renderer", "seed")) -> pd.DataFrame:
    """Per run (``keys``): last step, first and last ``value``, the gain over the
    window (the last quarter, widened to the last :data:`MIN_WINDOW_POINTS` points),
    its margin, the window's first step and points, and the status (``still
    improving`` / ``still declining`` / ``plateaued`` / ``unknown``)."""
    rows = []
    for key, g in curves.groupby(list(keys), sort=True, dropna=False):
        c = convergence(g["step"], g[value])
        g = g.sort_values("step")
        rows.append({**dict(zip(keys, key, strict=True)), "last_step": int(g["step"].max()),
                     f"first {value}": float(g[value].iloc[0]),
                     f"last {value}": float(g[value].iloc[-1]),
                     "gain_last_quarter": c.gain, "gain_margin": c.margin,
                     "window_from": c.window[0], "window_points": c.points,
                     "status": c.label})
    return pd.DataFrame(rows)


def _run_gains(runs: pd.DataFrame) -> str:
    return "; ".join(
        f"`{r.renderer}` seed {r.seed}: {r.gain_last_quarter:+.4f} (margin "
        f"{r.gain_margin:.4f}) over steps {r.window_from:g}-{r.last_step}"
        for r in runs.itertuples(index=False))


def convergence_sentence(conv: pd.DataFrame) -> str:
    """Plain sentences of how many runs of a :func:`run_convergence` table converged
    within the job, naming each run still improving or still declining with its gain,
    margin and window."""
    n = len(conv)
    late = conv[conv["status"] == "still improving"]
    down = conv[conv["status"] == "still declining"]
    open_ = conv[conv["status"] == "undetermined"]
    if not n:
        return ""
    if late.empty:
        flat = int((conv["status"] == "plateaued").sum())
        out = (f"{flat} of {n} runs plateaued within this job (a validation-IoU change "
               f"over the last {LAST_FRACTION:.0%} of steps shown immaterial)")
        out += "." if down.empty else f"; {len(down)} still declining"
    else:
        out = (f"Not converged within this job: {len(late)} of {n} runs still improving "
               f"(gain above its margin): {_run_gains(late)}. Their IoU is not final; a "
               f"longer schedule (`--set recon.iterations=N`) would settle it, beyond "
               f"this preset's time budget.")
        out += "" if down.empty else f" {len(down)} still declining"
    if not down.empty:
        out += (f": {_run_gains(down)}; a declining run's IoU is not settled either (e.g. "
                f"a renderer without a silhouette gradient, whose meshes only the "
                f"regularizers move).")
    if not open_.empty:
        out += (f" {len(open_)} of {n} runs undetermined (no significant change, but the "
                f"gain's interval is too wide to show a plateau): {_run_gains(open_)}; "
                f"record the curve more often (`--set recon.val_every=N`) or train "
                f"longer to settle them.")
    return out


def summed_wall(df: pd.DataFrame, column: str) -> float:
    """Seconds summed over the calls of one run: the largest ``column`` of each call
    (calls told apart by ``resumed_at``; in older logs without it, by ``column``
    falling back, which starts a new call)."""
    if df.empty:
        return math.nan
    if "resumed_at" in df and df["resumed_at"].notna().all():
        return float(df.groupby("resumed_at")[column].max().sum())
    t = df[column].to_numpy(dtype=np.float64)
    call = np.concatenate([[0], np.cumsum(np.diff(t) < 0)])
    return float(pd.Series(t).groupby(call).max().sum())


def validation_cost(curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: training seconds summed over its calls (validation excluded), seconds
    spent validating, validations and ``val_percent`` = validation / training time."""
    rows = []
    for (r, s), g in curves.groupby(["renderer", "seed"], sort=True):
        train_s = summed_wall(g, "train_s")
        val_s = float(g["val_s"].sum())
        rows.append({"renderer": r, "seed": s, "train_s": train_s, "val_s": val_s,
                     "validations": len(g),
                     "val_percent": 100 * val_s / train_s if train_s > 0 else math.nan})
    return pd.DataFrame(rows)


def training_seconds(metrics: pd.DataFrame | None) -> float:
    """Training wall seconds of every run summed over all of its calls (resumed runs
    included), from the ``wall_s`` of ``metrics.jsonl``; NaN without logs."""
    if metrics is None or metrics.empty:
        return math.nan
    return float(sum(summed_wall(g.sort_index(), "wall_s")
                     for _, g in metrics.groupby(["renderer", "seed"])))


#: The convergence statuses that make a run's numbers not final.
UNSETTLED = ("still improving", "still declining", "undetermined")


def unsettled(conv: pd.DataFrame | None) -> dict[str, dict]:
    """``{renderer: {seed: status}}`` of the runs flagged still improving, still
    declining or undetermined (:data:`UNSETTLED`; empty dicts for renderers with
    none)."""
    if conv is None or conv.empty:
        return {}
    out: dict[str, dict] = {r: {} for r in conv["renderer"].unique()}
    for row in conv.itertuples(index=False):
        if row.status in UNSETTLED:
            out[row.renderer].setdefault(row.seed, row.status)
    return out


def flag_words(seeds: dict) -> str:
    """``still improving`` / ``still declining`` / both, of one renderer's flagged runs
    (``{seed: status}`` of :func:`unsettled`); empty when none."""
    return " / ".join(s for s in UNSETTLED if s in seeds.values())


def _caution(flags: dict[str, dict], names: tuple[str, ...]) -> str:
    parts = []
    for status in UNSETTLED:
        bad = [f"{n} (seed {', '.join(str(s) for s, st in flags[n].items() if st == status)})"
               for n in names if status in flags.get(n, {}).values()]
        if bad:
            parts.append(f"{status}: " + "; ".join(bad))
    return "; ".join(parts)


def paired_table(per_object: pd.DataFrame, order: list[str],
                 flags: dict[str, dict] | None = None) -> pd.DataFrame:
    """Every pair of renderers (``a`` earlier in ``order``): the difference ``a - b`` of
    voxel IoU per category and ``overall``, its 95% interval and how it was formed
    (:func:`~bench_softras.report.stats.paired_estimates`), the counts, the verdict
    word and a caution naming runs still improving or still declining
    (:data:`PAIRED_COLUMNS`; ``flags``: :func:`unsettled`)."""
    flags = flags or {}
    names = [n for n in order if n in set(per_object["renderer"])]
    rows = []
    for a, b in itertools.combinations(names, 2):
        res = paired_estimates(per_object, a, b)
        for cat in [*sorted(k for k in res if k != "overall"), "overall"]:
            if cat not in res:
                continue
            e = res[cat]
            rows.append({"a": a, "b": b, "category": cat, "difference": e.estimate,
                         "ci_low": e.low, "ci_high": e.high, "method": e.method,
                         "df": e.df, "n_objects": e.n_objects,
                         "n_categories": e.n_categories, "n_seeds": e.n_seeds,
                         "seeds": e.seeds, "verdict": verdict_word(e),
                         "caution": _caution(flags, (a, b))})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def _text(value) -> str:
    """A cell as text: empty when missing (NaN when read back from CSV), a number read
    back from CSV (a single seed) as its integer."""
    if isinstance(value, str):
        return value
    return "" if value is None or pd.isna(value) else str(int(value))


def verdict_sentences(paired: pd.DataFrame, unit: str = "voxel IoU") -> list[str]:
    """One generated sentence per renderer pair, from its ``overall`` row."""
    out = []
    for row in paired[paired["category"] == "overall"].itertuples(index=False):
        e = PairedEstimate(row.difference, row.ci_low, row.ci_high, int(row.n_objects),
                           int(row.n_seeds), row.method, row.df, int(row.n_categories),
                           _text(row.seeds))
        s = verdict(row.a, row.b, e, unit)
        if _text(row.caution):
            s += f" Caution, {row.caution}: the gap may change with longer training."
        out.append(s)
    return out


def fit_category(shape: str) -> str:
    """The category of a fitting target's name (``airplane_3`` -> ``airplane``; a mesh
    file's stem or ``cube`` is its own category)."""
    return re.sub(r"_\d+$", "", str(shape))


def fitting_per_object(fit: pd.DataFrame) -> pd.DataFrame:
    """The last recorded step of every fit as a per-object table (``renderer, seed,
    category, object, voxel_iou``): objects are the targets."""
    last = fit.sort_values("step").groupby(["shape", "renderer", "seed"], sort=False).tail(1)
    cat = last["category"] if "category" in last else last["shape"].map(fit_category)
    return pd.DataFrame({"renderer": last["renderer"].to_numpy(),
                         "seed": last["seed"].to_numpy(), "category": cat.to_numpy(),
                         "object": last["shape"].to_numpy(),
                         "voxel_iou": last["voxel_iou"].to_numpy()})
