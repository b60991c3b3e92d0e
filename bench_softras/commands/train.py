"""``softras-bench train``: train one renderer's generator
(:func:`bench_softras.experiments.train.train`; resumes if interrupted).  Under
``torchrun``: ``torchrun --nproc_per_node=N -m bench_softras.commands.train ...``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import torch.distributed as dist

from bench_softras.experiments.renderer_choice import ensure_registered
from bench_softras.experiments.train import setup_distributed, train
from bench_softras.runs import recon_run_dir
from bench_softras.settings import ReconConfig, with_overrides
from bench_softras.shards import select

from .options import (
    add_preset_options,
    add_shard_argument,
    device_arg,
    distributed_data_dir,
    int_list_arg,
    path_arg,
    preset_from_args,
)

#: Fields of the preset that an option of ``train`` sets (``--set`` refuses them).
RESERVED = {"recon.renderer": "--renderer", "recon.seed": "--seed",
            "recon.out_dir": "--out-dir"}


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Options that override fields of the preset's :class:`ReconConfig`."""
    add_preset_options(p, "cpu")
    p.add_argument("--data-dir", dest="data_dir", type=path_arg,
                   help="directory of the npz files")
    p.add_argument("--class-ids", dest="class_ids", help="comma-separated class ids")
    p.add_argument("--iterations", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--image-size", dest="image_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--sigma", type=float)
    p.add_argument("--lambda-laplacian", dest="lambda_laplacian", type=float)
    p.add_argument("--lambda-flatten", dest="lambda_flatten", type=float)
    p.add_argument("--no-laplacian", dest="use_laplacian", action="store_const", const=False)
    p.add_argument("--no-flatten", dest="use_flatten", action="store_const", const=False)
    p.add_argument("--color-weight", dest="color_weight", type=float,
                   help="> 0: also predict vertex colours, l2 image loss with this weight")
    p.add_argument("--num-train-views", dest="num_train_views", type=int)
    p.add_argument("--max-train-objects", dest="max_train_objects", type=int)
    p.add_argument("--max-test-objects", dest="max_test_objects", type=int)
    p.add_argument("--checkpoint-every", dest="checkpoint_every", type=int,
                   help="also checkpoint every this many steps")
    p.add_argument("--checkpoint-minutes", dest="checkpoint_minutes", type=float,
                   help="also checkpoint every this many minutes of wall time (0: off)")
    p.add_argument("--keep-checkpoints", dest="keep_checkpoints", type=int,
                   help="checkpoints kept per run while it trains, newest first "
                        "(default 2); a finished run keeps only its final one")
    p.add_argument("--device", type=device_arg, help="cpu (default) or cuda")


def config_from_args(args: argparse.Namespace, reserved: Mapping[str, str] = RESERVED,
                     **extra) -> ReconConfig:
    """The preset's config (``--preset``, ``--set``; ``reserved``: the fields the
    command's options own) with the command-line overrides applied (an option given
    wins over ``--set``)."""
    base = preset_from_args(args, reserved).recon
    fields = {k: getattr(args, k, None) for k in (
        "data_dir", "iterations", "batch_size", "image_size", "lr", "sigma",
        "lambda_laplacian", "lambda_flatten", "use_laplacian", "use_flatten",
        "color_weight", "num_train_views", "max_train_objects", "max_test_objects",
        "checkpoint_every", "checkpoint_minutes", "keep_checkpoints", "device")}
    if getattr(args, "class_ids", None):
        fields["class_ids"] = tuple(c for c in args.class_ids.split(",") if c)
    fields.update(extra)
    return with_overrides(base, **fields)


def main(argv: list[str] | None = None) -> int:
    """``softras-bench train``: train one renderer's generator (resumes if interrupted)."""
    p = argparse.ArgumentParser(prog="softras-bench train", description=main.__doc__)
    add_config_arguments(p)
    p.add_argument("--renderer", default="softras",
                   help="renderer name (with --shard: comma-separated names)")
    p.add_argument("--seed", type=int_list_arg, default="0",
                   help="training seed (with --shard: comma-separated seeds)")
    p.add_argument("--out-dir", dest="out_dir", required=True, type=path_arg,
                   help="the run directory (with --shard: the parent of "
                        "<renderer>/seed_<s>/, as the reconstruction stage lays them out)")
    p.add_argument("--stop-after", dest="stop_after", type=int,
                   help="run at most this many steps now (a later call continues)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--wait", action="store_true",
                   help="if another job is training into --out-dir, wait for it to finish "
                        "(default: fail at once naming it)")
    add_shard_argument(p)
    args = p.parse_args(argv)
    names = [n.strip() for n in args.renderer.split(",") if n.strip()]
    seeds = [int(x) for x in args.seed.split(",")]
    if args.shard is None and (len(names) != 1 or len(seeds) != 1):
        p.error("one --renderer and one --seed without --shard (lists go with --shard i/n)")
    runs = ([(names[0], seeds[0], args.out_dir)] if args.shard is None else
            [(n, s, str(recon_run_dir(args.out_dir, n, s)))
             for n, s in select([(n, s) for n in names for s in seeds], args.shard)])
    path = None
    for name in names:
        ensure_registered(name)  # an unknown name fails before any data loads
    base = config_from_args(args)
    data_dir = str(distributed_data_dir(base.data_dir, preset_from_args(args, RESERVED),
                                        args.progress, base.device)) if runs else ""
    for name, seed, out_dir in runs:
        config = config_from_args(args, renderer=name, seed=seed, out_dir=out_dir,
                                  data_dir=data_dir)
        path = train(config, stop_after=args.stop_after, progress=args.progress,
                     wait=args.wait)
    d = setup_distributed(base.device)
    if d.is_main:
        print(path if runs else f"shard {args.shard}: no runs")
    if d.active:
        dist.barrier()  # every rank is done with gloo before any rank tears it down
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
