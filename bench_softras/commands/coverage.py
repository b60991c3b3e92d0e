"""``softras-bench coverage``: the coverage of the report's paired intervals, by
simulation (:mod:`bench_softras.report.coverage`; the tables of ``docs/statistics.md``).

Like ``renderers`` it takes no ``--preset`` / ``--set``: the simulated design is not a
preset's; its sizes and SDs are this command's own options (defaults: the committed
runs, :class:`~bench_softras.report.coverage.Design`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace

from bench_softras.report.coverage import (
    ONE_PER_CATEGORY,
    Design,
    check_band,
    coverage_table,
)

#: The seed counts the tables show.
SEED_COUNTS = (1, 2, 3, 5)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="softras-bench coverage",
                                description="Coverage of the report's paired intervals, "
                                            "by simulation (docs/statistics.md).")
    p.add_argument("--reps", type=int, default=20000, help="replications per seed count")
    p.add_argument("--bootstrap-reps", type=int, default=1000,
                   help="replications for the bootstrap methods (slower)")
    p.add_argument("--object-sd", type=float, default=Design.object_sd,
                   help="SD of the objects' own effect (0: the test set fixed)")
    p.add_argument("--seed-sd", type=float, default=Design.seed_sd,
                   help="SD of a seed's effect on every object")
    p.add_argument("--seed-category-sd", type=float, default=Design.seed_category_sd,
                   help="SD of a seed's effect on one category")
    p.add_argument("--category-sd", type=float, default=Design.category_sd,
                   help="SD of the fixed category means (0: pooling categories is exact)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless the crossed interval covers 93-97%% and the pooled "
                        "one at least 93%% at 3 and 5 seeds")
    return p


def coverage_main(argv: Sequence[str] | None = None) -> int:
    """Print the coverage tables (the runs' design, then one object per category); with
    ``--check`` exit 1 unless ``crossed`` lies in
    :data:`~bench_softras.report.coverage.COVERAGE_BAND` and ``pooled`` at or above its
    lower end at 3 and 5 seeds.  Bad sizes exit 2 (argparse's one line)."""
    p = _parser()
    args = p.parse_args(argv)
    if args.reps < 100 or args.bootstrap_reps < 1:
        p.error("--reps must be at least 100 and --bootstrap-reps at least 1")
    sds = {"object_sd": args.object_sd, "seed_sd": args.seed_sd,
           "seed_category_sd": args.seed_category_sd, "category_sd": args.category_sd}
    design = replace(Design(), **sds)
    table = coverage_table(design, SEED_COUNTS, args.reps, args.bootstrap_reps)
    fmt = {"index": False, "float_format": lambda v: f"{v:.3f}"}
    print(f"Design: {design}; SD of the per-seed mean difference {design.seed_mean_sd():.4f}; "
          f"{args.reps} replications ({args.bootstrap_reps} for the bootstrap methods)")
    print(table.to_string(**fmt))
    one = replace(ONE_PER_CATEGORY, **sds)
    pooled = coverage_table(one, SEED_COUNTS, args.reps, args.bootstrap_reps,
                            fast=("pooled",), slow=("pooled_given_seeds",))
    print(f"One object per category (categories pooled): {one.categories} categories x "
          f"{one.objects} object; pooled_given_seeds against the difference given the "
          f"seeds that ran")
    print(pooled.to_string(**fmt))
    return check_band(table, pooled) if args.check else 0


main = coverage_main
