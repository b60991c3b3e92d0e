"""``softras-bench timing``: the timing and scaling study
(:func:`bench_softras.studies.timing.run_timing_study`)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from bench_softras import results_schema as schema
from bench_softras.studies import timing

from .options import add_preset_options, device_arg, path_type, preset_from_args


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``softras-bench timing --out DIR [--preset smoke|cpu|paper] [--renderers a,b]
    [--device cpu|cuda] [--repeats N] [--no-memory]``."""
    p = argparse.ArgumentParser(prog="softras-bench timing",
                                description="Forward/backward time and peak memory of the "
                                            "rasterizers versus faces, image size, batch "
                                            "and sigma.")
    p.add_argument("--out", type=path_type, required=True, help="output directory")
    add_preset_options(p, "cpu")
    p.add_argument("--renderers", help="comma-separated registered names")
    p.add_argument("--device", type=device_arg, help="torch device of the inputs (cpu, cuda)")
    p.add_argument("--repeats", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--max-dense-pairs", dest="max_dense_pairs", type=int)
    p.add_argument("--no-memory", dest="memory", action="store_const", const=False)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    args = p.parse_args(argv)
    over = {k: getattr(args, k) for k in ("device", "repeats", "warmup", "max_dense_pairs",
                                          "memory") if getattr(args, k) is not None}
    if args.renderers:
        over["renderers"] = tuple(n for n in args.renderers.split(",") if n)
    cfg = dataclasses.replace(preset_from_args(args).timing, **over)
    df = timing.run_timing_study(cfg, args.out, progress=args.progress)
    fb = df[df["pass"] == "forward+backward"]
    print(fb.drop_duplicates(["renderer", "faces", "image_size", "batch", "sigma"])[
        ["renderer", "faces", "image_size", "batch", "sigma", "time_s", "peak_mem_mb",
         "images_per_s", "ns_per_pair"]].to_string(index=False))
    print(f"wrote {args.out}/{schema.csv_name(schema.TIMING)} (+ .parquet, "
          f"{schema.csv_name(schema.TIMING_SKIPPED)}, {schema.TIMING_NOTES_JSON})")
    return 0
