"""``python -m bench_softras.commands.device_check --out DIR``: CUDA-vs-CPU agreement and
CUDA timing of every registered renderer (:mod:`bench_softras.studies.device_check`;
run by ``scripts/gpu_check.sh``).  Not a ``softras-bench`` command: it uses no preset,
and its CPU reference runs in a child process of this module."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

import renderers
from bench_softras import atomic
from bench_softras.commands.options import path_arg
from bench_softras.experiments.resume import load_checkpoint
from bench_softras.studies import device_check
from bench_softras.studies.device_check import DENSE, agreement, cuda_usable, reference, timing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench_softras.commands.device_check",
                                description=device_check.__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=path_arg, help="output directory")
    p.add_argument("--renderers", default="", help="comma-separated names (default: all)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--reference-only", action="store_true",
                   help="only compute the CPU reference (run with SOFTRAS_BENCH_TAICHI_ARCH=cpu)")
    args = p.parse_args(argv)
    out = Path(args.out)
    names = [n for n in args.renderers.split(",") if n] or renderers.available()
    ref_path = out / "cpu_reference.pt"
    if args.reference_only:
        atomic.write_with(ref_path, lambda tmp: torch.save(reference(names), tmp))
        return 0
    pd.set_option("display.width", 160)
    if not cuda_usable():
        print("CUDA is not usable here (torch or Taichi): CPU timings only")
        df = timing([n for n in names if n not in DENSE], "cpu", repeats=args.repeats)
        atomic.write_table(df, out / "timing_cpu.csv")
        print(df.to_string(index=False))
        return 0
    env = dict(os.environ, SOFTRAS_BENCH_TAICHI_ARCH="cpu")
    subprocess.run([sys.executable, "-m", "bench_softras.commands.device_check", "--out",
                    str(out), "--renderers", ",".join(names), "--reference-only"],
                   env=env, check=True)
    # Weights only (tensors and plain containers): the file runs no code when read.
    agree = agreement(load_checkpoint(ref_path, keys=frozenset(names)), "cuda")
    atomic.write_table(agree, out / "agreement.csv")
    print(agree.to_string(index=False))
    df = timing(names, "cuda", repeats=args.repeats)
    atomic.write_table(df, out / "timing.csv")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
