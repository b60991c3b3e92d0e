"""The statistics behind the report's verdicts: convergence of a run and paired
bootstrap confidence intervals between renderers.

Convergence (:func:`convergence`): a run's gain is the rise of its validation IoU over
the last 25% of its steps (:data:`LAST_FRACTION`), measured as the least-squares slope
of the curve's points in that window (the window's first point interpolated on the
curve) times the window's length in steps; with two points this is their difference.
A run whose gain is above :data:`STILL_IMPROVING_GAIN` is "still improving", one whose
gain is below minus that threshold "still declining" (e.g. a renderer without a
silhouette gradient, whose meshes only the regularizers move): either way its numbers
are not final, and every table that uses it says so.

Paired comparison (:func:`paired_bootstrap`): renderers ``a`` and ``b`` are compared on
the same objects, views and seeds.  Per seed ``s`` and object ``o`` of category ``c``,
``d[s, c, o]`` is the mean over views of ``IoU_a - IoU_b``.  A category's estimate is
the mean of ``d`` over its objects and the seeds; the overall estimate is the mean of
the category estimates (the mean over categories, as the paper's Table 1).  The 95% CI
is the percentile interval of :data:`BOOTSTRAP_SAMPLES` bootstrap replicates in which
the objects of each category are resampled with replacement (stratified by category:
each category keeps its object count) and, when there are several seeds, the seeds too
(the same objects for every seed: the design is crossed).  The replicates use a fixed
generator seed, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Validation-IoU gain (absolute IoU, 0..1) over the last quarter of a run above which
#: the run is flagged "still improving".
STILL_IMPROVING_GAIN = 0.01
#: The trailing fraction of a run's steps its convergence gain is measured over.
LAST_FRACTION = 0.25
#: Bootstrap replicates per confidence interval.
BOOTSTRAP_SAMPLES = 4000
#: Confidence level of the intervals.
CONFIDENCE = 0.95
#: Seed of the bootstrap's random generator (reports are reproducible).
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Convergence:
    """``gain``: validation-IoU gain over the last :data:`LAST_FRACTION` of the steps
    (NaN when the curve has fewer than two points); ``still_improving``: ``gain`` above
    the threshold; ``window``: ``(first step, last step)`` of the window;
    ``still_declining``: ``gain`` below minus the threshold."""

    gain: float
    still_improving: bool
    window: tuple[float, float]
    still_declining: bool = False

    @property
    def label(self) -> str:
        """``still improving``, ``still declining``, ``plateaued`` or ``unknown`` (too
        few points)."""
        if math.isnan(self.gain):
            return "unknown"
        if self.still_improving:
            return "still improving"
        return "still declining" if self.still_declining else "plateaued"


def convergence(steps: Sequence[float], values: Sequence[float],
                threshold: float = STILL_IMPROVING_GAIN,
                fraction: float = LAST_FRACTION) -> Convergence:
    """The convergence verdict of one learning curve (``values`` at ``steps``, any
    order; duplicated steps keep the last value).  See the module docstring."""
    s = pd.Series(np.asarray(values, dtype=np.float64), index=np.asarray(steps, np.float64))
    s = s[~s.index.duplicated(keep="last")].sort_index().dropna()
    if len(s) < 2 or s.index[-1] <= s.index[0]:
        return Convergence(math.nan, False, (math.nan, math.nan))
    last = float(s.index[-1])
    start = last - fraction * (last - float(s.index[0]))
    x = np.asarray(s.index, dtype=np.float64)
    y = s.to_numpy()
    inside = x > start
    xs = np.concatenate([[start], x[inside]])
    ys = np.concatenate([[np.interp(start, x, y)], y[inside]])
    slope = np.polyfit(xs - start, ys, 1)[0] if xs.size > 2 else (ys[-1] - ys[0]) / (last - start)
    gain = float(slope * (last - start))
    return Convergence(gain, gain > threshold, (start, last), gain < -threshold)


# -- paired bootstrap ---------------------------------------------------------------------
@dataclass(frozen=True)
class PairedEstimate:
    """One renderer pair on one category (or ``overall``): the mean per-object
    difference ``a - b`` of voxel IoU, its bootstrap CI (NaN bounds when every
    category it covers has a single object and a single seed: nothing varies under
    resampling), and the resampling units."""

    estimate: float
    low: float
    high: float
    n_objects: int
    n_seeds: int


def _differences(per_object: pd.DataFrame, a: str, b: str) -> dict[str, np.ndarray]:
    """``{category: d [S, O]}``: per seed and object, the mean over views of
    ``IoU_a - IoU_b`` on the (seed, category, object, view) cells both renderers have;
    objects not measured under every seed are left out."""
    keys = ["seed", "category", "object"] + (["view"] if "view" in per_object else [])
    cols = [*keys, "voxel_iou"]
    left = per_object.loc[per_object["renderer"] == a, cols]
    right = per_object.loc[per_object["renderer"] == b, cols]
    both = left.merge(right, on=keys, suffixes=("_a", "_b"))
    both["d"] = both["voxel_iou_a"] - both["voxel_iou_b"]
    per = both.groupby(["category", "seed", "object"], dropna=False)["d"].mean()
    out = {}
    for cat, sub in per.groupby(level="category", sort=True):
        wide = sub.droplevel("category").unstack("object").dropna(axis=1)
        if wide.size:
            out[str(cat)] = wide.to_numpy(dtype=np.float64)
    return out


def _weights(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    """Bootstrap weights ``[samples, n]``: multinomial counts of ``n`` draws / ``n``."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=samples) / n


def bootstrap_replicates(diffs: dict[str, np.ndarray], samples: int = BOOTSTRAP_SAMPLES,
                         seed: int = BOOTSTRAP_SEED) -> dict[str, np.ndarray]:
    """Bootstrap replicates ``[samples]`` of each category's estimate and of
    ``overall`` (mean over categories) from ``diffs`` (``{category: d [S, O]}``): seeds
    resampled once per replicate (shared by the categories), objects per category."""
    rng = np.random.default_rng(seed)
    n_seeds = {d.shape[0] for d in diffs.values()}
    if len(n_seeds) != 1:
        raise ValueError(f"every category needs the same seeds, got counts {sorted(n_seeds)}")
    s = n_seeds.pop()
    w_seed = _weights(rng, s, samples) if s > 1 else np.ones((samples, 1))
    out = {}
    for cat, d in diffs.items():
        w_obj = _weights(rng, d.shape[1], samples)
        out[cat] = np.einsum("bs,so,bo->b", w_seed, d, w_obj)
    out["overall"] = np.mean([out[c] for c in diffs], axis=0)
    return out


def paired_bootstrap(per_object: pd.DataFrame, a: str, b: str,
                     samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED,
                     confidence: float = CONFIDENCE) -> dict[str, PairedEstimate]:
    """``{category | "overall": PairedEstimate}`` of renderer ``a`` minus ``b`` on the
    per-object table (columns ``renderer, seed, category, object, voxel_iou`` and
    optionally ``view``); ``{}`` when they share no cell."""
    diffs = _differences(per_object, a, b)
    if not diffs:
        return {}
    reps = bootstrap_replicates(diffs, samples, seed)
    tail = (1.0 - confidence) / 2
    out = {}
    n_seeds = next(iter(diffs.values())).shape[0]
    for key, rep in reps.items():
        d = [diffs[key]] if key in diffs else list(diffs.values())
        est = (float(d[0].mean()) if key in diffs
               else float(np.mean([x.mean() for x in d])))
        n_obj = sum(x.shape[1] for x in d)
        lo, hi = np.quantile(rep, [tail, 1.0 - tail])
        if all(x.size < 2 for x in d):  # nothing to resample: no interval
            lo = hi = math.nan
        out[key] = PairedEstimate(est, float(lo), float(hi), n_obj, n_seeds)
    return out


def _num(x: float, sign: str = "") -> str:
    """``x`` with 4 decimals, or 2 significant digits when that would show 0.0000."""
    return format(x, f"{sign}.4f") if x == 0 or abs(x) >= 5e-5 else format(x, f"{sign}.2g")


def verdict(a: str, b: str, e: PairedEstimate, unit: str = "voxel IoU") -> str:
    """The verdict sentence of ``a`` vs ``b`` from the estimate and its CI: ahead when
    the whole CI is above 0, behind when below, else a tie."""
    ci = f"95% CI [{_num(e.low, '+')}, {_num(e.high, '+')}]"
    size = f"{e.n_objects} objects x {e.n_seeds} seed{'s' if e.n_seeds > 1 else ''}"
    if math.isnan(e.low):
        return (f"`{a}` vs `{b}`: difference {_num(e.estimate, '+')} {unit} on a single "
                f"object and seed, too few for a confidence interval; no verdict.")
    if e.low > 0:
        return f"`{a}` is ahead of `{b}` by {_num(e.estimate)} {unit} ({ci}; {size})."
    if e.high < 0:
        return f"`{a}` is behind `{b}` by {_num(-e.estimate)} {unit} ({ci}; {size})."
    return (f"`{a}` and `{b}` tie: difference {_num(e.estimate, '+')} {unit}, {ci} includes 0 "
            f"({size}).")


def verdict_word(e: PairedEstimate) -> str:
    """``ahead``, ``behind``, ``tie`` or ``no CI`` (too few objects and seeds for an interval)."""
    if math.isnan(e.low):
        return "no CI"
    return "ahead" if e.low > 0 else "behind" if e.high < 0 else "tie"
