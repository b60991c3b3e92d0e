"""``softras-bench gradients``: the gradient accuracy and forward fidelity study
(:func:`bench_softras.studies.gradients.run_gradient_study`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import renderers
from bench_softras.studies import gradients
from bench_softras.studies.gradients import default_renderers
from metrics.gradient_accuracy import PEER_REFERENCE, SCENES

from .options import add_preset_options, path_type, preset_from_args


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``softras-bench gradients --out DIR [--preset smoke|cpu] [--renderers a,b]
    [--sigmas s1,s2] [--scenes a,b] [--image-size N] [--seed S]``."""
    p = argparse.ArgumentParser(prog="softras-bench gradients",
                                description="Gradient accuracy and forward fidelity of "
                                            "rasterizers against exact pixel coverage.")
    p.add_argument("--out", type=path_type, required=True, help="output directory")
    add_preset_options(p, "smoke")
    p.add_argument("--renderers", default=None,
                   help="comma-separated registered names (default: every registered "
                        "renderer, installed peers included, as the main job)")
    p.add_argument("--sigmas", default=None, help="comma-separated sigmas (overrides preset)")
    p.add_argument("--scenes", default=None, help=f"comma-separated, from {','.join(SCENES)}")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    preset = preset_from_args(args).gradients
    names = tuple(args.renderers.split(",")) if args.renderers else default_renderers()
    absent = renderers.absent_peers()
    if absent and not args.renderers:
        print(f"note: optional renderers not installed: {absent}; running {list(names)}",
              file=sys.stderr)
    sigmas = [float(s) for s in args.sigmas.split(",")] if args.sigmas else preset.sigmas
    scenes = tuple(args.scenes.split(",")) if args.scenes else preset.scenes
    grad_df, fid_df = gradients.run_gradient_study(
        renderers=names, sigmas=sigmas, scenes=scenes,
        image_size=args.image_size or preset.image_size, seed=args.seed,
        out_dir=args.out, progress=not args.no_progress)
    peer_cols = [f"cosine_{PEER_REFERENCE}"] if grad_df[f"cosine_{PEER_REFERENCE}"].notna(
    ).any() else []
    if not peer_cols:
        print(f"note: {PEER_REFERENCE} is not available "
              f"({renderers.absent_peers().get(PEER_REFERENCE, 'not registered')}); "
              f"no second gradient reference", file=sys.stderr)
    summary = (grad_df.groupby(["renderer", "loss", "sigma"], dropna=False)[
        ["cosine", "rel_l2", "sign_agree"] + peer_cols].mean().round(3))
    print(summary.to_string())
    print(f"wrote {args.out}/gradient_accuracy.csv, forward_fidelity.csv (+ .parquet)")
    return 0
