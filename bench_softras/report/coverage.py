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
percentile interval).  ``python -m bench_softras.report.coverage`` prints the table of
``docs/statistics.md``; ``--check`` fails unless ``crossed`` covers 93-97% at 3 and 5
seeds (``nox -s coverage``).
"""

from __future__ import annotations

import argparse
import sys
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
             ) -> tuple[np.ndarray, float]:
    """``(d [reps, C, S, O], truth)`` of ``reps`` independent benchmarks."""
    c, s, o = design.categories, design.seeds, design.objects
    mu = rng.normal(0.01, design.category_sd, size=c)  # fixed across replications
    t = rng.standard_t(design.tail_df, size=(reps, c, s, o))
    noise = t * design.noise_sd / np.sqrt(design.tail_df / (design.tail_df - 2))
    d = (mu[None, :, None, None]
         + rng.normal(0, design.object_sd, (reps, c, 1, o))
         + rng.normal(0, design.seed_sd, (reps, 1, s, 1))
         + rng.normal(0, design.seed_category_sd, (reps, c, s, 1)) + noise)
    return d, float(mu.mean())


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


def coverage(design: Design, reps: int, seed: int = 0, methods: tuple[str, ...] = METHODS,
             confidence: float = CONFIDENCE, samples: int = 1000) -> dict[str, float]:
    """``{method: fraction of reps whose interval covers the truth}`` (see the module
    docstring); methods needing two seeds are left out with one seed."""
    rng = np.random.default_rng(seed)
    d, truth = simulate(design, reps, rng)
    out = {}
    for m in methods:
        if m in SEED_METHODS and design.seeds < 2:
            continue
        if m == "crossed":
            _, _, _, lo, hi = crossed_interval([d[:, k] for k in range(d.shape[1])],
                                               confidence)
        elif m == "seed_t":
            lo, hi = _seed_t(d, confidence)
        elif m == "crossed_anova":
            lo, hi = _crossed_anova(d, confidence)
        else:
            lo, hi = _bootstrap(d, confidence, samples, m == "old_bootstrap", rng)
        out[m] = float(np.mean((lo <= truth) & (truth <= hi)))
    return out


def coverage_table(design: Design, seeds: tuple[int, ...], reps: int,
                   bootstrap_reps: int, seed: int = 0) -> pd.DataFrame:
    """Coverage per seed count (rows) and method (columns); the bootstrap methods on
    ``bootstrap_reps`` replications (they are slower), the others on ``reps``."""
    rows = []
    for s in seeds:
        dsg = replace(design, seeds=s)
        fast = coverage(dsg, reps, seed + s, SEED_METHODS)
        slow = coverage(dsg, bootstrap_reps, seed + 100 + s,
                        ("objects_given_seeds", "old_bootstrap"))
        rows.append({"seeds": s, **fast, **slow})
    return pd.DataFrame(rows, columns=["seeds", *METHODS])


def main(argv: list[str] | None = None) -> int:
    """Print the coverage table; with ``--check`` exit 1 unless ``crossed`` lies in
    :data:`COVERAGE_BAND` at 3 and 5 seeds."""
    p = argparse.ArgumentParser(prog="python -m bench_softras.report.coverage",
                                description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=20000, help="replications per seed count")
    p.add_argument("--bootstrap-reps", type=int, default=1000,
                   help="replications for the bootstrap methods (slower)")
    p.add_argument("--object-sd", type=float, default=Design.object_sd,
                   help="SD of the objects' own effect (0: the test set fixed)")
    p.add_argument("--seed-sd", type=float, default=Design.seed_sd,
                   help="SD of a seed's effect on every object")
    p.add_argument("--seed-category-sd", type=float, default=Design.seed_category_sd,
                   help="SD of a seed's effect on one category")
    p.add_argument("--check", action="store_true", help="assert the band at 3 and 5 seeds")
    args = p.parse_args(argv)
    if args.reps < 100 or args.bootstrap_reps < 1:
        p.error("--reps must be at least 100 and --bootstrap-reps at least 1")
    design = Design(object_sd=args.object_sd, seed_sd=args.seed_sd,
                    seed_category_sd=args.seed_category_sd)
    table = coverage_table(design, (1, 2, 3, 5), args.reps, args.bootstrap_reps)
    print(f"Design: {design}; SD of the per-seed mean difference {design.seed_mean_sd():.4f}; "
          f"{args.reps} replications ({args.bootstrap_reps} for the bootstrap methods)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if not args.check:
        return 0
    lo, hi = COVERAGE_BAND
    bad = [f"{s} seeds: {c:.3f}" for s, c in zip(table["seeds"], table["crossed"], strict=True)
           if s in (3, 5) and not lo <= c <= hi]
    if bad:
        print(f"coverage of the crossed interval outside [{lo}, {hi}]: {'; '.join(bad)}")
        return 1
    print(f"crossed interval coverage within [{lo}, {hi}] at 3 and 5 seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
