"""The statistics behind the report's verdicts: convergence of a run and paired
confidence intervals between renderers.  ``docs/statistics.md`` explains the choices
and shows the measured coverage (:mod:`bench_softras.report.coverage`).

Convergence (:func:`convergence`): a run's gain is the least-squares slope of its
recorded validation IoU over the last 25% of its steps (:data:`LAST_FRACTION`; widened
to the last :data:`MIN_WINDOW_POINTS` recorded points when that quarter holds fewer)
times the window's length in steps.  The gain is judged against the curve's own noise:
its standard error from the scatter of the window's points about the fitted line.  A
run is "still improving" when the gain is above its margin, the larger of the
two-sided :data:`CONFIDENCE` t quantile (``n - 2`` degrees of freedom) times that
standard error and :data:`MIN_GAIN`; "still declining" when below minus the margin
(e.g. a renderer without a silhouette gradient, whose meshes only the regularizers
move).  A gain within its margin is not yet evidence of a plateau: the run is
"plateaued" only when even the far end of the gain's interval, ``|gain| + margin``, is
at most :data:`FLAT_FRACTION` of the curve's whole rise (``|last - first|``; at least
:data:`FLAT_FLOOR`); otherwise the curve is too noisy or too sparse to tell and the run
is "undetermined" (e.g. four validation points spanning the steep early part of a short
run).  Any flag but "plateaued" means the run's numbers are not final, and every table
that uses it says so.

Paired comparison (:func:`paired_estimates`): renderers ``a`` and ``b`` are compared on
the same objects, views and seeds.  Per seed ``s`` and object ``o`` of category ``c``,
``d[s, c, o]`` is the mean over views of ``IoU_a - IoU_b``.  A category's estimate is
the mean of ``d`` over its objects and the seeds; the overall estimate is the mean of
the category estimates (the mean over categories, as the paper's Table 1).

With at least :data:`MIN_SEEDS` seeds and two objects in every category, the interval
treats the training seeds and the test objects as two crossed random samples (every
seed is evaluated on the same objects): :func:`crossed_interval`, a t interval whose
variance is the between-seed variance of the per-seed means plus the between-object
variance of the per-object means (stratified by category), with Satterthwaite's
degrees of freedom.  The verdict is then ``ahead`` / ``behind`` / ``tie``.  With fewer
seeds the between-seed spread cannot be measured well enough (the simulation
under-covers): the interval is the percentile
interval of :data:`BOOTSTRAP_SAMPLES` stratified bootstrap resamples of the objects
with the seeds held fixed (:func:`object_bootstrap`), conditional on the seeds that
ran, and the verdict says ``indicative``.

Collapsed strata: when every category of an estimate (in practice ``overall``) has a
single object (e.g. fitting, one target per category), nothing within a category
measures the between-object variance.  The categories are then pooled into one
stratum (the collapsed-strata estimator): the objects are treated as one unstratified
sample, so the between-object variance is estimated across categories.  That variance
also carries the spread of the category means, so the interval is conservative.  Both
paths apply it: the crossed interval's object term uses the pooled per-object means
(``method`` :data:`CROSSED_POOLED`), the conditional bootstrap resamples the pooled
objects unstratified (:data:`CONDITIONAL_POOLED`).  Estimates whose categories all have
two or more objects are unchanged; a mix (some categories with one object) is not
pooled: its single-object categories count with no within-category variance, and
below :data:`MIN_SEEDS` seeds, or in the mix, the verdict is ``indicative``.  A single
category with a single object has no interval (``no CI``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

#: The trailing fraction of a run's steps its convergence gain is measured over.
LAST_FRACTION = 0.25
#: The fewest recorded curve points the convergence window holds (widened back to them).
MIN_WINDOW_POINTS = 4
#: Smallest gain (absolute IoU) flagged even on a noiseless curve: about one voxel in a
#: thousand, the resolution below which a change of voxel IoU is immaterial.
MIN_GAIN = 0.001
#: A plateau is shown when the gain's interval stays within this fraction of the curve's
#: whole rise (first to last recorded value) ...
FLAT_FRACTION = 0.25
#: ... or within this absolute IoU, for curves that barely move (e.g. ``hard``, whose
#: meshes only the regularizers move): two voxels in a thousand.
FLAT_FLOOR = 2 * MIN_GAIN
#: Bootstrap replicates per conditional (too few seeds) confidence interval.
BOOTSTRAP_SAMPLES = 4000
#: Confidence level of the intervals and of the convergence test.
CONFIDENCE = 0.95
#: Seed of the bootstrap's random generator (reports are reproducible).
BOOTSTRAP_SEED = 0
#: The fewest training seeds for a verdict (``ahead``/``behind``/``tie``); below it the
#: comparison is ``indicative`` (docs/statistics.md: coverage by seed count).
MIN_SEEDS = 3
#: ``method`` of an interval over seeds and objects / over objects given the seeds.
CROSSED = "seeds x objects (t)"
CONDITIONAL = "objects | seeds (bootstrap)"
#: The same with the categories pooled into one stratum (module docstring).
CROSSED_POOLED = "seeds x objects, categories pooled (t)"
CONDITIONAL_POOLED = "objects | seeds, categories pooled (bootstrap)"
#: The key of :func:`object_bootstrap`'s replicates of ``overall`` over pooled objects.
POOLED = "overall, categories pooled"


def t_quantile(df: float | np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """The two-sided ``confidence`` quantile of Student's t with ``df`` degrees of freedom."""
    return sps.t.ppf(0.5 + confidence / 2, df)


@dataclass(frozen=True)
class Convergence:
    """``gain``: validation-IoU gain over the window (NaN when the curve has fewer than
    three points); ``margin``: the gain a rise or fall must exceed; ``window``:
    ``(first step, last step)``; ``points``: recorded points in the window; ``rise``:
    ``|last - first|`` value of the whole curve (IoU)."""

    gain: float
    margin: float
    window: tuple[float, float]
    points: int = 0
    rise: float = math.inf

    @property
    def still_improving(self) -> bool:
        return bool(self.gain > self.margin)

    @property
    def still_declining(self) -> bool:
        return bool(self.gain < -self.margin)

    @property
    def shown_flat(self) -> bool:
        """Whether the gain's whole interval is immaterial (module docstring)."""
        return bool(abs(self.gain) + self.margin
                    <= max(FLAT_FRACTION * self.rise, FLAT_FLOOR))

    @property
    def label(self) -> str:
        """``still improving``, ``still declining``, ``plateaued``, ``undetermined``
        (neither a significant change nor shown flat) or ``unknown`` (too few points)."""
        if math.isnan(self.gain):
            return "unknown"
        if self.still_improving:
            return "still improving"
        if self.still_declining:
            return "still declining"
        return "plateaued" if self.shown_flat else "undetermined"


def convergence(steps: Sequence[float], values: Sequence[float],
                fraction: float = LAST_FRACTION, confidence: float = CONFIDENCE,
                min_gain: float = MIN_GAIN) -> Convergence:
    """The convergence verdict of one learning curve (``values`` at ``steps``, any
    order; duplicated steps keep the last value).  See the module docstring."""
    s = pd.Series(np.asarray(values, dtype=np.float64), index=np.asarray(steps, np.float64))
    s = s[~s.index.duplicated(keep="last")].sort_index().dropna()
    if len(s) < 3:
        return Convergence(math.nan, math.nan, (math.nan, math.nan))
    x, y = np.asarray(s.index, dtype=np.float64), s.to_numpy()
    inside = x >= x[-1] - fraction * (x[-1] - x[0])
    if inside.sum() < MIN_WINDOW_POINTS:
        inside = np.arange(x.size) >= x.size - MIN_WINDOW_POINTS
    xs, ys = x[inside], y[inside]
    n, length = xs.size, xs[-1] - xs[0]
    slope, icpt = np.polyfit(xs - xs[0], ys, 1)
    resid = ys - (icpt + slope * (xs - xs[0]))
    se_slope = math.sqrt(float(resid @ resid) / (n - 2) / float(((xs - xs.mean()) ** 2).sum()))
    margin = max(float(t_quantile(n - 2, confidence)) * se_slope * length, min_gain)
    return Convergence(float(slope * length), margin, (float(xs[0]), float(xs[-1])), n,
                       float(abs(y[-1] - y[0])))


# -- paired comparison --------------------------------------------------------------------
@dataclass(frozen=True)
class PairedEstimate:
    """One renderer pair on one category (or ``overall``): the mean per-object
    difference ``a - b`` of voxel IoU, its interval (NaN bounds when none can be
    formed), how it was formed (``method``: :data:`CROSSED` or :data:`CONDITIONAL`, or
    their ``_POOLED`` forms when the categories were pooled into one stratum; ``df``:
    degrees of freedom of a t interval) and the counts behind it."""

    estimate: float
    low: float
    high: float
    n_objects: int
    n_seeds: int
    method: str = CROSSED
    df: float = math.nan
    n_categories: int = 1
    seeds: str = ""

    @property
    def pooled(self) -> bool:
        """Whether the categories were pooled into one stratum (module docstring)."""
        return self.method in (CROSSED_POOLED, CONDITIONAL_POOLED)


def per_object_means(per_object: pd.DataFrame, value: str = "voxel_iou") -> pd.DataFrame:
    """Per renderer, seed, category and object: ``views`` (how many were averaged; 1
    without a ``view`` column) and the mean of ``value`` over them (the report's
    ``data/recon_per_object.csv``, the input of :func:`paired_estimates`)."""
    keys = ["renderer", "seed", "category", "object"]
    g = per_object.groupby(keys, dropna=False, sort=True)[value]
    out = g.mean().reset_index()
    out.insert(4, "views", g.size().to_numpy())
    return out


def _differences(per_object: pd.DataFrame, a: str, b: str) -> dict[str, np.ndarray]:
    """``{category: d [S, O]}``: per seed and object, the mean over views of
    ``IoU_a - IoU_b`` on the (seed, category, object, view) cells both renderers have;
    objects not measured under every seed are left out; ``b=None``: ``IoU_a`` alone."""
    keys = ["seed", "category", "object"] + (["view"] if "view" in per_object else [])
    cols = [*keys, "voxel_iou"]
    both = per_object.loc[per_object["renderer"] == a, cols]
    if b is not None:
        right = per_object.loc[per_object["renderer"] == b, cols]
        both = both.merge(right, on=keys, suffixes=("", "_b"))
        both["voxel_iou"] = both["voxel_iou"] - both["voxel_iou_b"]
    per = both.groupby(["category", "seed", "object"], dropna=False)["voxel_iou"].mean()
    out = {}
    for cat, sub in per.groupby(level="category", sort=True):
        wide = sub.droplevel("category").unstack("object").dropna(axis=1)
        if wide.size:
            out[str(cat)] = wide.to_numpy(dtype=np.float64)
    return out


def crossed_interval(diffs: Sequence[np.ndarray], confidence: float = CONFIDENCE
                     ) -> tuple[np.ndarray, ...]:
    """``(estimate, se, df, low, high)`` of the mean over categories of the mean of
    ``d`` (one array ``[..., S, O_c]`` per category; leading axes batch independent
    problems) with seeds and objects as crossed random samples.

    ``Var = var(per-seed means) / S + sum_c var_c(per-object means) / (C^2 O_c)``
    (per-seed means: over the categories of each category's mean; per-object means:
    over the seeds), degrees of freedom by Satterthwaite from ``S - 1`` and the
    ``O_c - 1``.  The seed x object interaction is in both terms (counted twice, a
    little conservative; docs/statistics.md shows why it is not subtracted).  Needs
    ``S >= 2`` and ``O_c >= 2``."""
    c = len(diffs)
    s = diffs[0].shape[-2]
    seed_means = np.mean([d.mean(axis=-1) for d in diffs], axis=0)  # [..., S]
    est = seed_means.mean(axis=-1)
    var = seed_means.var(axis=-1, ddof=1) / s
    df_terms = var ** 2 / (s - 1)
    for d in diffs:
        o = d.shape[-1]
        v_obj = d.mean(axis=-2).var(axis=-1, ddof=1) / (c * c * o)
        var = var + v_obj
        df_terms = df_terms + v_obj ** 2 / (o - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = var ** 2 / df_terms
    df = np.where(np.isfinite(df), df, s - 1.0)  # every difference equal: no spread
    se = np.sqrt(var)
    half = t_quantile(df, confidence) * se
    return est, se, df, est - half, est + half


def _weights(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    """Bootstrap weights ``[samples, n]``: multinomial counts of ``n`` draws / ``n``."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=samples) / n


def object_bootstrap(diffs: dict[str, np.ndarray], samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> dict[str, np.ndarray]:
    """Bootstrap replicates ``[samples]`` of each category's estimate and of
    ``overall`` (mean over categories) from ``diffs`` (``{category: d [S, O]}``): the
    objects of each category resampled (stratified), the seeds held fixed (each
    object's difference averaged over them): conditional on the seeds.  When the
    categories pool (:func:`pooled_categories`), also :data:`POOLED`: the objects of
    every category resampled as one unstratified sample (drawn after the others, so
    they are unchanged)."""
    rng = np.random.default_rng(seed)
    out = {}
    for cat, d in diffs.items():
        w_obj = _weights(rng, d.shape[1], samples)
        out[cat] = w_obj @ d.mean(axis=0)
    out["overall"] = np.mean([out[c] for c in diffs], axis=0)
    if pooled_categories(list(diffs.values())):
        g = np.concatenate([d.mean(axis=0) for d in diffs.values()])  # [C] objects
        out[POOLED] = _weights(rng, g.size, samples) @ g
    return out


def pooled_categories(diffs: Sequence[np.ndarray]) -> bool:
    """Whether the categories of one estimate (``d [S, O_c]`` each) pool into one
    stratum: more than one category, every one with a single object."""
    return len(diffs) > 1 and all(d.shape[-1] < 2 for d in diffs)


def _crossed(d: list[np.ndarray], n_obj: int, s: int, confidence: float,
             seeds: str) -> PairedEstimate:
    """The crossed estimate over the categories ``d``, their objects pooled into one
    stratum when :func:`pooled_categories` (the same estimate: one object each)."""
    pooled = pooled_categories(d)
    strata = [np.concatenate(d, axis=-1)] if pooled else d
    est, _, df, lo, hi = (float(x) for x in crossed_interval(strata, confidence))
    return PairedEstimate(est, lo, hi, n_obj, s, CROSSED_POOLED if pooled else CROSSED,
                          df, len(d), seeds)


def paired_estimates(per_object: pd.DataFrame, a: str, b: str | None,
                     confidence: float = CONFIDENCE, samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> dict[str, PairedEstimate]:
    """``{category | "overall": PairedEstimate}`` of renderer ``a`` minus ``b`` (``b``
    ``None``: ``a``'s own IoU) on the per-object table (columns ``renderer, seed,
    category, object, voxel_iou`` and optionally ``view``); ``{}`` when they share no
    cell.  See the module docstring for the choice of interval."""
    diffs = _differences(per_object, a, b)
    if not diffs:
        return {}
    n_seeds = {d.shape[0] for d in diffs.values()}
    if len(n_seeds) != 1:
        raise ValueError(f"every category needs the same seeds, got counts {sorted(n_seeds)}")
    s = n_seeds.pop()
    seeds = ", ".join(str(x) for x in sorted(per_object.loc[per_object["renderer"] == a, "seed"]
                                             .dropna().unique()))
    reps, tail, out = None, (1.0 - confidence) / 2, {}
    for key in [*diffs, "overall"]:
        d = [diffs[key]] if key in diffs else list(diffs.values())
        n_obj, pooled = sum(x.shape[1] for x in d), pooled_categories(d)
        if s >= MIN_SEEDS and (pooled or all(x.shape[1] >= 2 for x in d)):
            out[key] = _crossed(d, n_obj, s, confidence, seeds)
            continue
        reps = object_bootstrap(diffs, samples, seed) if reps is None else reps
        est = float(np.mean([x.mean() for x in d]))
        lo, hi = np.quantile(reps[POOLED if pooled else key], [tail, 1.0 - tail])
        if n_obj < 2:  # nothing to resample: no interval
            lo = hi = math.nan
        out[key] = PairedEstimate(est, float(lo), float(hi), n_obj, s,
                                  CONDITIONAL_POOLED if pooled else CONDITIONAL,
                                  math.nan, len(d), seeds)
    return out


def _num(x: float, sign: str = "") -> str:
    """``x`` with 4 decimals, or 2 significant digits when that would show 0.0000."""
    return format(x, f"{sign}.4f") if x == 0 or abs(x) >= 5e-5 else format(x, f"{sign}.2g")


def counts(e: PairedEstimate) -> str:
    """``"208 objects in 13 categories x 3 seeds"`` (from the estimate's counts)."""
    cats = (f" in {e.n_categories} categories" if e.n_categories > 1 else "")
    objects = f"{e.n_objects} object{'s' if e.n_objects != 1 else ''}"
    return f"{objects}{cats} x {e.n_seeds} seed{'s' if e.n_seeds != 1 else ''}"


#: What a pooled interval carries, in a verdict sentence (module docstring).
POOLED_NOTE = ("categories pooled: one object each, so the interval also carries the "
               "spread between categories (conservative)")


def verdict(a: str, b: str, e: PairedEstimate, unit: str = "voxel IoU") -> str:
    """The verdict sentence of ``a`` vs ``b`` (:func:`verdict_word`), its interval, the
    counts it rests on and whether the categories were pooled (:data:`POOLED_NOTE`)."""
    ci = f"95% CI [{_num(e.low, '+')}, {_num(e.high, '+')}]"
    word = verdict_word(e)
    pool = f"; {POOLED_NOTE}" if e.pooled else ""
    if word == "no CI":
        return (f"`{a}` vs `{b}`: difference {_num(e.estimate, '+')} {unit} on "
                f"{counts(e)}; with a single object there is nothing to resample, so no "
                f"confidence interval and no verdict.")
    if word == "indicative":
        side = ("above 0" if e.low > 0 else "below 0" if e.high < 0 else "includes 0")
        held = f"seed{'s' if e.n_seeds != 1 else ''} {e.seeds or '?'}"
        return (f"`{a}` vs `{b}`: difference {_num(e.estimate, '+')} {unit}, indicative "
                f"only: the {ci}, conditional on {held} (objects resampled, the "
                f"seed{'s' if e.n_seeds != 1 else ''} held fixed), {side}{pool}; "
                f"{e.n_seeds} seed{'s' if e.n_seeds != 1 else ''} cannot measure the "
                f"between-seed spread (at least {MIN_SEEDS} are needed for a verdict; "
                f"{counts(e)}).")
    size = f"{counts(e)}, t interval with {e.df:.1f} df{pool}"
    if word == "ahead":
        return f"`{a}` is ahead of `{b}` by {_num(e.estimate)} {unit} ({ci}; {size})."
    if word == "behind":
        return f"`{a}` is behind `{b}` by {_num(-e.estimate)} {unit} ({ci}; {size})."
    return (f"`{a}` and `{b}` tie: difference {_num(e.estimate, '+')} {unit}, {ci} includes 0 "
            f"({size}).")


def verdict_word(e: PairedEstimate) -> str:
    """``ahead`` / ``behind`` / ``tie`` (an interval over seeds and objects),
    ``indicative`` (an interval conditional on too few seeds) or ``no CI``."""
    if math.isnan(e.low):
        return "no CI"
    if e.method not in (CROSSED, CROSSED_POOLED):
        return "indicative"
    return "ahead" if e.low > 0 else "behind" if e.high < 0 else "tie"
