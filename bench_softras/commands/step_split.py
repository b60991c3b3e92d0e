"""``softras-bench step-split``: one reconstruction training step split into its parts
(:func:`bench_softras.studies.step_split.run_step_split`)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from bench_softras.studies import step_split
from bench_softras.studies.step_split import StepSplitConfig, format_split

from .options import add_preset_options, path_arg, path_type, preset_from_args, resolve_data_dir


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``softras-bench step-split [--preset cpu] [--renderer softras] [--steps N]
    [--device cpu] [--data-dir DIR] [--out DIR]``."""
    p = argparse.ArgumentParser(prog="softras-bench step-split",
                                description="Time one reconstruction training step split "
                                            "into data, generator, renderer, loss and "
                                            "optimizer.")
    defaults = StepSplitConfig()
    add_preset_options(p, defaults.preset)
    p.add_argument("--renderer", default=defaults.renderer)
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--warmup", type=int, default=defaults.warmup)
    p.add_argument("--device", default=defaults.device)
    p.add_argument("--data-dir", dest="data_dir", default="", type=path_arg)
    p.add_argument("--out", type=path_type, help="write step_split.csv here")
    args = p.parse_args(argv)
    fields = {f.name for f in dataclasses.fields(StepSplitConfig)}
    try:
        cfg = StepSplitConfig(**{k: v for k, v in vars(args).items() if k in fields})
    except ValueError as exc:
        p.error(str(exc))
    preset = preset_from_args(args)
    data_dir = resolve_data_dir(cfg.data_dir or preset.recon.data_dir, preset, progress=False)
    cfg = dataclasses.replace(cfg, data_dir=str(data_dir))
    df = step_split.run_step_split(cfg, preset.recon, args.out)
    print(f"{cfg.preset} preset, {cfg.renderer}, batch {int(df['batch_size'].iloc[0])}, "
          f"median of {cfg.steps} steps:")
    print(format_split(df))
    return 0
