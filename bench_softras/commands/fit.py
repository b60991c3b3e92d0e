"""``softras-bench fit``: the fitting benchmark
(:func:`bench_softras.experiments.fit_bench.run_fit_benchmark`) from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_softras.data.categories import class_id_of
from bench_softras.experiments import fit_bench
from bench_softras.settings import with_overrides

from .options import (
    add_preset_options,
    add_shard_argument,
    path_arg,
    preset_from_args,
    resolve_data_dir,
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="softras-bench fit", description=main.__doc__)
    add_preset_options(p, "cpu")
    p.add_argument("--data-dir", dest="data_dir", type=path_arg,
                   help="data set whose objects are the targets and whose tuning split tunes "
                        "each renderer (default: the preset's built-in synthetic data set)")
    p.add_argument("--categories", help="comma-separated class ids or names (default: all)")
    p.add_argument("--per-category", dest="per_category", type=int,
                   help="targets per category of the data set (default: the preset's; 0 "
                        "when --shapes is given)")
    p.add_argument("--tuning-targets", dest="tuning_targets", type=int,
                   help="objects of the tuning split each renderer's sweep fits")
    p.add_argument("--no-tune", dest="tune", action="store_false",
                   help="no sweep: every renderer fits with the preset's lr and sigma")
    p.add_argument("--shapes", help="comma-separated extra targets: mesh files, category "
                                    "names, cube")
    p.add_argument("--renderers", help="comma-separated renderer names")
    p.add_argument("--out-dir", dest="out_dir", default="results/fitting", type=path_arg)
    p.add_argument("--steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--views-per-step", dest="views_per_step", type=int)
    p.add_argument("--num-views", dest="num_views", type=int,
                   help="training views the fit may use: up to 24 evenly spaced benchmark "
                        "views (default 24), 25..48 adds views from below (mesh targets)")
    p.add_argument("--record-every", dest="record_every", type=int)
    p.add_argument("--sigma", type=float)
    p.add_argument("--no-laplacian", dest="use_laplacian", action="store_const", const=False)
    p.add_argument("--no-flatten", dest="use_flatten", action="store_const", const=False)
    p.add_argument("--color-weight", dest="color_weight", type=float,
                   help="fit vertex colours too, with this weight on the l2 image loss "
                        "(mesh targets)")
    p.add_argument("--seed", type=int)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: only when the console is a terminal)")
    add_shard_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """``softras-bench fit``: the fitting benchmark: tune each renderer on the data set's
    val objects, then fit its test objects (k per category) and any named shapes."""
    args = _parser().parse_args(argv)
    if args.progress is None:
        args.progress = sys.stderr.isatty()
    preset = preset_from_args(args)
    overrides = {k: getattr(args, k) for k in ("steps", "lr", "views_per_step", "num_views",
                                              "record_every", "sigma", "use_laplacian",
                                              "use_flatten", "color_weight", "seed")}
    cfg = with_overrides(preset.fit, **overrides)
    shapes = args.shapes.split(",") if args.shapes else []
    per_category = args.per_category if args.per_category is not None else (
        0 if shapes else None)
    bench = with_overrides(preset.fit_bench, per_category=per_category,
                           tuning_targets=0 if not args.tune else args.tuning_targets)
    need_data = bench.per_category > 0 or bench.tuning_targets > 0
    data_dir = resolve_data_dir(args.data_dir, preset, args.progress) if need_data else None
    class_ids = [class_id_of(c) for c in args.categories.split(",")] if args.categories else []
    names = args.renderers.split(",") if args.renderers else None
    df = fit_bench.run_fit_benchmark(names, preset, args.out_dir, config=cfg, bench=bench,
                                     data_dir=data_dir, class_ids=class_ids, shapes=shapes,
                                     progress=args.progress, shard=args.shard)
    if df.empty:
        print(f"shard {args.shard}: no fitting units")
        return 0
    last = df.sort_values("step").groupby(["shape", "renderer"]).tail(1)
    print(last[["shape", "category", "renderer", "step", "voxel_iou", "silhouette_iou",
                "color_mse", "wall_s"]].to_string(index=False))
    _print_outputs(args.out_dir)
    return 0


def _print_outputs(out_dir: str | Path) -> None:
    """Say where ``softras-bench fit`` wrote its tables, meshes and units."""
    out = Path(out_dir)
    tables = ", ".join(f"{t}.csv" for t in fit_bench.TABLES if (out / f"{t}.csv").is_file())
    print(f"outputs in {out}/: tables {tables or '(none)'} (each also .parquet); fitted "
          f"meshes in {out / 'meshes'}/; each fit's curve and unit.json in {out / 'units'}/")
