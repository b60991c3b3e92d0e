"""``softras-bench evaluate``: evaluate checkpoints, or (``--train``) train and
evaluate every renderer of a preset
(:func:`bench_softras.experiments.evaluate.run_reconstruction`).  Under ``torchrun``:
``torchrun --nproc_per_node=N -m bench_softras.commands.evaluate --train ...``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pandas as pd

import bench_softras.experiments.evaluate as ev
from bench_softras import results_schema as schema
from bench_softras import shards
from bench_softras.data import MultiViewData, load_split
from bench_softras.data.checks import check_eval_resolution
from bench_softras.experiments.evaluate import evaluate, summary_table, template_floor, write_table
from bench_softras.settings import ReconConfig
from bench_softras.shards import Shard

from .options import (
    add_shard_argument,
    distributed_data_dir,
    int_list_arg,
    path_arg,
    preset_from_args,
    resolve_data_dir,
)
from .train import add_config_arguments, config_from_args

#: Fields of the preset that an option of ``evaluate`` sets (``--set`` refuses them).
RESERVED = {"recon.renderer": "--renderers", "recon.seed": "--seeds",
            "recon.out_dir": "--out-dir"}


def main(argv: list[str] | None = None) -> int:
    """``softras-bench evaluate``: evaluate checkpoints, or (``--train``) train and
    evaluate every renderer of a preset (``run_reconstruction``)."""
    p = argparse.ArgumentParser(prog="softras-bench evaluate", description=main.__doc__)
    add_config_arguments(p)
    p.add_argument("--out-dir", dest="out_dir", required=True, type=path_arg,
                   help="where tables go")
    p.add_argument("--checkpoint", action="append", default=[], type=path_arg,
                   help="a checkpoint to evaluate (repeatable)")
    p.add_argument("--train", action="store_true",
                   help="train (or resume) the preset's renderers first, then evaluate")
    p.add_argument("--renderers", help="comma-separated renderer names (with --train)")
    p.add_argument("--seeds", type=int_list_arg, help="comma-separated seeds (with --train)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    add_shard_argument(p)
    args = p.parse_args(argv)
    config = config_from_args(args, RESERVED)
    preset = preset_from_args(args, RESERVED)
    if args.train:
        data_dir = distributed_data_dir(config.data_dir, preset, args.progress, config.device)
        df = ev.run_reconstruction(
            preset, args.renderers.split(",") if args.renderers else None,
            data_dir, args.out_dir,
            [int(s) for s in args.seeds.split(",")] if args.seeds else None,
            config=config, progress=args.progress, shard=args.shard)
        if df.empty:
            print(f"shard {args.shard}: no units")
            return 0
    else:
        if not args.checkpoint:
            p.error("give --checkpoint PATH (repeatable) or --train")
        data_dir = resolve_data_dir(config.data_dir, preset, args.progress)
        test = load_split(data_dir, config.eval_split, config.class_ids,
                          config.max_test_objects)
        check_eval_resolution(test.voxels.shape[-1], data_dir, test.classes[0],
                              config.eval_split)
        df = _evaluate_checkpoints(args.checkpoint, test, config, args.out_dir, args.shard,
                                   args.progress)
        if df is None:
            print(f"shard {args.shard}: no units")
            return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary_table(df).round(4).to_string())
    return 0


def _evaluate_checkpoints(checkpoints: Sequence[str], test: MultiViewData, config: ReconConfig,
                          out_dir: str, shard: Shard | None, progress: bool
                          ) -> pd.DataFrame | None:
    """The template floor and each checkpoint's evaluation (units, in that order; with
    ``shard`` only its slice, written as ``recon_iou_shard_<i>_of_<n>.*`` so no two
    shards write one file); ``None`` when the shard has no unit."""
    units = shards.select([None, *checkpoints], shard)
    if not units:
        return None
    frames = [template_floor(test, config) if c is None else
              evaluate(c, test, batch_size=config.eval_batch_size, device=config.device,
                       progress=progress) for c in units]
    df = pd.concat(frames, ignore_index=True)
    write_table(df, out_dir, schema.RECON_IOU if shard is None else
                f"{schema.RECON_IOU}_shard_{shard.file_stem}")
    return df


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
