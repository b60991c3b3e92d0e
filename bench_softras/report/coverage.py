"""Coverage of the report's paired intervals, by simulation (pure numpy).

A simulated benchmark sized like the committed runs: :attr:`Design.categories`
categories of :attr:`Design.objects` test objects each, ``seeds`` training seeds, every
seed evaluated on the same objects.  The per-object difference of two renderers (mean
over views) is

    d[s, c, o] = mu_c + a[c, o] + b[s] + g[s, c] + e[s, c, o]

with ``mu_c`` fixed category means, ``a`` the object's own effect (drawn afresh every
replication: the test objects are a sample), ``b`` and ``g`` the training seed's effect
overall and per category, and ``e`` the seed x object interaction (heavy-tailed:
Student t with :attr:`Design.tail_df` degrees of freedom, scaled to its SD).  The truth
is ``mean_c mu_c`` (the population difference the report's ``overall`` estimates).

:func:`coverage` counts how often an interval covers the truth: ``crossed`` (the
report's, :func:`bench_softras.report.stats.crossed_interval`), ``seed_t`` (a t
interval over the per-seed means alone), ``crossed_anova`` (the crossed interval with
the seed x object interaction subtracted once, the unbiased ANOVA variance, object
part kept at least 0), ``objects_given_seeds`` (the stratified
object bootstrap with seeds fixed, the report's conditional interval) and
``old_bootstrap`` (the bootstrap the report used before: objects and seeds resampled,
percentile interval).

With one object per category (:data:`ONE_PER_CATEGORY`, sized like the fitting stage:
13 categories, one target each) the report pools the categories into one stratum
(:mod:`bench_softras.report.stats`, collapsed strata): ``pooled`` is the crossed
interval over the pooled objects, checked against the truth above; ``pooled_given_seeds``
is the unstratified bootstrap of the pooled objects with the seeds held fixed (the
report's interval below :data:`~bench_softras.report.stats.MIN_SEEDS` seeds).  That one
claims nothing about seeds, so it is checked against its own estimand, the difference
expected over new objects *given the seeds that ran* (``mean_c (mu_c + g[s, c]) + b[s]``,
averaged over those seeds): the ``given`` truth of :func:`simulate`.

``softras-bench coverage`` (:mod:`bench_softras.commands.coverage`) prints the tables
of ``docs/statistics.md``; with ``--check`` it fails unless ``crossed`` covers 93-97%
at 3 and 5 seeds and ``pooled`` at least 93% (:func:`check_band`; ``nox -s coverage``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .stats import CONFIDENCE, crossed_interval, t_quantile

#: The band the report's interval must cover the truth in (``nox -s coverage``).
COVERAGE_BAND = (0.93, 0.97)
#: The methods :func:`coverage` compares.
METHODS = ("crossed", "seed_t", "crossed_anova", "objects_given_seeds", "old_bootstrap")
#: The methods that need at least two seeds (and are fast).
SEED_METHODS = ("crossed", "seed_t", "crossed_anova")
#: The collapsed-strata methods (one object per category; module docstring).
POOLED_METHODS = ("pooled", "pooled_given_seeds")
#: The methods judged against the truth given the seeds that ran (``given``).
GIVEN_SEEDS = ("pooled_given_seeds",)


@dataclass(frozen=True)
class Design:
    """A simulated benchmark; SDs in absolute voxel IoU of the per-object difference.
    The defaults give a between-seed SD of the per-seed mean difference of about
    0.0064 (:meth:`seed_mean_sd`), as the committed cpu run's 3 seeds (0.0066)."""

    categories: int = 13
    objects: int = 16
    seeds: int = 3
    category_sd: float = 0.05   # spread of the fixed category means mu_c
    object_sd: float = 0.04     # a: the object's own effect
    seed_sd: float = 0.005      # b: the seed's effect on every object
    seed_category_sd: float = 0.01  # g: the seed's effect on one category
    noise_sd: float = 0.04      # e: seed x object interaction
    tail_df: float = 5.0        # e is Student t with this df (heavy tails)

    def seed_mean_sd(self) -> float:
        """SD across seeds of a seed's mean difference over categories (fixed objects)."""
        c, o = self.categories, self.objects
        return float(np.sqrt(self.seed_sd ** 2 + self.seed_category_sd ** 2 / c
                             + self.noise_sd ** 2 / (c * o)))


def simulate(design: Design, reps: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, float, np.ndarray]:
    """``(d [reps, C, S, O], truth, given [reps])`` of ``reps`` independent benchmarks:
    ``truth`` the population difference, ``given`` the difference expected over new
    objects given each benchmark's seeds (module docstring)."""
    c, s, o = design.categories, design.seeds, design.objects
    mu = rng.normal(0.01, design.category_sd, size=c)  # fixed across replications
    t = rng.standard_t(design.tail_df, size=(reps, c, s, o))
    noise = t * design.noise_sd / np.sqrt(design.tail_df / (design.tail_df - 2))
    obj = rng.normal(0, design.object_sd, (reps, c, 1, o))
    seed = rng.normal(0, design.seed_sd, (reps, 1, s, 1))
    seed_cat = rng.normal(0, design.seed_category_sd, (reps, c, s, 1))
    d = mu[None, :, None, None] + obj + seed + seed_cat + noise
    given = mu.mean() + (seed + seed_cat).mean(axis=(1, 2, 3))
    return d, float(mu.mean()), given


def _seed_t(d: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """A t interval (``S - 1`` df) over the per-seed means alone."""
    m = d.mean(axis=(1, 3))  # [R, S]
    s = m.shape[1]
    half = t_quantile(s - 1, confidence) * m.std(axis=1, ddof=1) / np.sqrt(s)
    return m.mean(axis=1) - half, m.mean(axis=1) + half


def _crossed_anova(d: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The crossed interval with the interaction mean square subtracted from the object
    part (kept at least 0; Satterthwaite df over all three terms, ``S - 1`` when 0)."""
    _, c, s, o = d.shape
    seed_means = d.mean(axis=(1, 3))
    v_seed = seed_means.var(axis=1, ddof=1) / s
    v_obj = (d.mean(axis=2).var(axis=2, ddof=1) / (c * c * o))  # [R, C]
    resid = (d - d.mean(axis=3, keepdims=True) - d.mean(axis=2, keepdims=True)
             + d.mean(axis=(2, 3), keepdims=True))
    v_int = (resid ** 2).sum(axis=(2, 3)) / ((s - 1) * (o - 1)) / (c * c * o * s)
    part = v_obj.sum(axis=1) - v_int.sum(axis=1)
    var = v_seed + np.maximum(part, 0.0)
    terms = (v_seed ** 2 / (s - 1) + (v_obj ** 2).sum(axis=1) / (o - 1)
             + (v_int ** 2).sum(axis=1) / ((s - 1) * (o - 1)))
    df = np.where(part > 0, var ** 2 / terms, s - 1.0)
    half = t_quantile(df, confidence) * np.sqrt(var)
    est = seed_means.mean(axis=1)
    return est - half, est + half


def _bootstrap(d: np.ndarray, confidence: float, samples: int, seeds: bool,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of the stratified object bootstrap, the seeds resampled too
    (``seeds``: the old method) or held fixed."""
    r, c, s, o = d.shape
    lows, highs = np.empty(r), np.empty(r)
    tail = (1 - confidence) / 2
    for i in range(r):
        w_seed = (rng.multinomial(s, np.full(s, 1 / s), size=samples) / s if seeds and s > 1
                  else np.full((samples, s), 1 / s))
        w_obj = rng.multinomial(o, np.full(o, 1 / o), size=(samples, c)) / o  # [B, C, O]
        rep = np.einsum("bs,cso,bco->b", w_seed, d[i], w_obj) / c
        lows[i], highs[i] = np.quantile(rep, [tail, 1 - tail])
    return lows, highs


def _pooled(d: np.ndarray) -> np.ndarray:
    """Every category's objects as one stratum: ``d [R, C, S, O]`` -> ``[R, S, C*O]``."""
    r, c, s, o = d.shape
    return d.transpose(0, 2, 1, 3).reshape(r, s, c * o)


def _pooled_bootstrap(d: np.ndarray, confidence: float, samples: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of the unstratified bootstrap of the pooled objects (each
    averaged over the seeds, which are held fixed): the report's pooled conditional
    interval."""
    g = _pooled(d).mean(axis=1)  # [R, N] per-object means
    n = g.shape[1]
    tail = (1 - confidence) / 2
    lows, highs = np.empty(len(g)), np.empty(len(g))
    for i, gi in enumerate(g):
        rep = rng.multinomial(n, np.full(n, 1 / n), size=samples) / n @ gi
        lows[i], highs[i] = np.quantile(rep, [tail, 1 - tail])
    return lows, highs


def _interval(m: str, d: np.ndarray, confidence: float, samples: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high) [R]`` of method ``m`` (module docstring) on ``d [R, C, S, O]``."""
    if m == "crossed":
        return crossed_interval([d[:, k] for k in range(d.shape[1])], confidence)[3:]
    if m == "pooled":
        return crossed_interval([_pooled(d)], confidence)[3:]
    if m == "seed_t":
        return _seed_t(d, confidence)
    if m == "crossed_anova":
        return _crossed_anova(d, confidence)
    if m == "pooled_given_seeds":
        return _pooled_bootstrap(d, confidence, samples, rng)
    return _bootstrap(d, confidence, samples, m == "old_bootstrap", rng)


def coverage(design: Design, reps: int, seed: int = 0, methods: tuple[str, ...] = METHODS,
             confidence: float = CONFIDENCE, samples: int = 1000) -> dict[str, float]:
    """``{method: fraction of reps whose interval covers its truth}`` (the population
    difference; for :data:`GIVEN_SEEDS`, the difference given the seeds that ran; see
    the module docstring); methods needing two seeds are left out with one seed."""
    rng = np.random.default_rng(seed)
    d, truth, given = simulate(design, reps, rng)
    out = {}
    for m in methods:
        if m in (*SEED_METHODS, "pooled") and design.seeds < 2:
            continue
        lo, hi = _interval(m, d, confidence, samples, rng)
        t = given if m in GIVEN_SEEDS else truth
        out[m] = float(np.mean((lo <= t) & (t <= hi)))
    return out


def coverage_table(design: Design, seeds: tuple[int, ...], reps: int,
                   bootstrap_reps: int, seed: int = 0,
                   fast: tuple[str, ...] = SEED_METHODS,
                   slow: tuple[str, ...] = ("objects_given_seeds", "old_bootstrap")
                   ) -> pd.DataFrame:
    """Coverage per seed count (rows) and method (columns): the ``slow`` (bootstrap)
    methods on ``bootstrap_reps`` replications, the ``fast`` ones on ``reps``."""
    rows = []
    for s in seeds:
        dsg = replace(design, seeds=s)
        quick = coverage(dsg, reps, seed + s, fast)
        boot = coverage(dsg, bootstrap_reps, seed + 100 + s, slow)
        rows.append({"seeds": s, **quick, **boot})
    return pd.DataFrame(rows, columns=["seeds", *fast, *slow])


#: The fitting stage's design: 13 categories, one target (object) each.
ONE_PER_CATEGORY = Design(objects=1)


def check_band(table: pd.DataFrame, pooled: pd.DataFrame) -> int:
    """0 when ``crossed`` lies in :data:`COVERAGE_BAND` and ``pooled`` at or above its
    lower end at 3 and 5 seeds, else 1 (printing what failed)."""
    lo, hi = COVERAGE_BAND
    bad = [f"{s} seeds: {c:.3f}" for s, c in zip(table["seeds"], table["crossed"], strict=True)
           if s in (3, 5) and not lo <= c <= hi]
    low = [f"{s} seeds: {c:.3f}" for s, c in zip(pooled["seeds"], pooled["pooled"], strict=True)
           if s in (3, 5) and not lo <= c]
    if bad:
        print(f"coverage of the crossed interval outside [{lo}, {hi}]: {'; '.join(bad)}")
    if low:
        print(f"coverage of the pooled interval below {lo}: {'; '.join(low)}")
    if bad or low:
        return 1
    print(f"crossed interval coverage within [{lo}, {hi}] at 3 and 5 seeds")
    print(f"pooled interval coverage (one object per category) at least {lo} at 3 and 5 "
          f"seeds")
    return 0
