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
    LAST_FRACTION,
    STILL_IMPROVING_GAIN,
    PairedEstimate,
    convergence,
    paired_bootstrap,
    verdict,
    verdict_word,
)

#: Columns of :func:`paired_table`.
PAIRED_COLUMNS = ["a", "b", "category", "difference", "ci_low", "ci_high", "n_objects",
                  "n_seeds", "verdict", "caution"]


def threshold_sentence() -> str:
    """The documented convergence rule, for the report."""
    return (f"A run is flagged **still improving** when its validation voxel IoU rose by "
            f"more than {STILL_IMPROVING_GAIN:g} (absolute IoU) over the last "
            f"{LAST_FRACTION:.0%} of its steps (least-squares slope over that window times "
            f"its length; `bench_softras.report.stats.STILL_IMPROVING_GAIN`): its numbers "
            f"are not final, and a longer run may change the comparison.")


def run_convergence(curves: pd.DataFrame, value: str = "val_voxel_iou",
                    keys: tuple[str, ...] = ("renderer", "seed")) -> pd.DataFrame:
    """Per run (``keys``): last step, first and last ``value``, the gain over the last
    quarter and the status (``still improving`` / ``plateaued`` / ``unknown``)."""
    rows = []
    for key, g in curves.groupby(list(keys), sort=True, dropna=False):
        c = convergence(g["step"], g[value])
        g = g.sort_values("step")
        rows.append({**dict(zip(keys, key, strict=True)), "last_step": int(g["step"].max()),
                     f"first {value}": float(g[value].iloc[0]),
                     f"last {value}": float(g[value].iloc[-1]),
                     "gain_last_quarter": c.gain, "status": c.label})
    return pd.DataFrame(rows)


def convergence_sentence(conv: pd.DataFrame) -> str:
    """One plain sentence of how many runs of a :func:`run_convergence` table converged
    within the job, naming each run still improving with its gain and window."""
    n = len(conv)
    late = conv[conv["status"] == "still improving"]
    if not n:
        return ""
    if late.empty:
        return (f"All {n} runs plateaued within this job (validation-IoU gain over the last "
                f"{LAST_FRACTION:.0%} of steps at most {STILL_IMPROVING_GAIN:g}).")
    runs = "; ".join(
        f"`{r.renderer}` seed {r.seed}: +{r.gain_last_quarter:.4f} over the last "
        f"{LAST_FRACTION:.0%} of {r.last_step} steps" for r in late.itertuples(index=False))
    return (f"Not converged within this job: {len(late)} of {n} runs still improving "
            f"(gain above {STILL_IMPROVING_GAIN:g}): {runs}. Their IoU is not final; a "
            f"longer schedule (`--set recon.iterations=N`) would settle it, beyond this "
            f"preset's time budget.")


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


def still_improving(conv: pd.DataFrame | None) -> dict[str, list]:
    """``{renderer: [seeds flagged still improving]}`` (empty lists when none)."""
    if conv is None or conv.empty:
        return {}
    out: dict[str, list] = {r: [] for r in conv["renderer"].unique()}
    for row in conv.itertuples(index=False):
        if row.status == "still improving" and row.seed not in out[row.renderer]:
            out[row.renderer].append(row.seed)
    return out


def _caution(flags: dict[str, list], names: tuple[str, ...]) -> str:
    bad = [f"{n} (seed {', '.join(str(s) for s in flags[n])})" for n in names if flags.get(n)]
    return ("still improving: " + "; ".join(bad)) if bad else ""


def paired_table(per_object: pd.DataFrame, order: list[str],
                 flags: dict[str, list] | None = None) -> pd.DataFrame:
    """Every pair of renderers (``a`` earlier in ``order``): the difference ``a - b`` of
    voxel IoU per category and ``overall``, its 95% CI, the verdict word and a caution
    naming runs still improving (:data:`PAIRED_COLUMNS`)."""
    flags = flags or {}
    names = [n for n in order if n in set(per_object["renderer"])]
    rows = []
    for a, b in itertools.combinations(names, 2):
        res = paired_bootstrap(per_object, a, b)
        for cat in [*sorted(k for k in res if k != "overall"), "overall"]:
            if cat not in res:
                continue
            e = res[cat]
            rows.append({"a": a, "b": b, "category": cat, "difference": e.estimate,
                         "ci_low": e.low, "ci_high": e.high, "n_objects": e.n_objects,
                         "n_seeds": e.n_seeds, "verdict": verdict_word(e),
                         "caution": _caution(flags, (a, b))})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def verdict_sentences(paired: pd.DataFrame, unit: str = "voxel IoU") -> list[str]:
    """One generated sentence per renderer pair, from its ``overall`` row."""
    out = []
    for row in paired[paired["category"] == "overall"].itertuples(index=False):
        e = PairedEstimate(row.difference, row.ci_low, row.ci_high, row.n_objects, row.n_seeds)
        s = verdict(row.a, row.b, e, unit)
        if isinstance(row.caution, str) and row.caution:  # NaN when read back from CSV
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
