"""Several training runs packed onto one device at once, and the throughput they give
together (issue 22, item 5: a GPU at the paper setting is launch-bound, so one run
leaves most of it idle).

    python benchmarks/packed_runs.py --runs 1,2,4 --preset gpu --device cuda \\
        --renderer softras --iterations 300 [--data-dir DIR] [--out DIR]

For each count ``K`` of ``--runs``, ``K`` fresh ``softras-bench train`` processes start
together (seeds ``0 .. K-1``, each in its own run folder, each with ``cores // K``
threads unless ``--threads-per-run`` says otherwise) and the next group starts when
all of them have ended.  Each run logs every step (``recon.log_every=1``); its steady
rate is the steps after ``--warmup`` over the wall time they took (compilation and
data loading excluded).  A group's throughput is the sum of its runs' rates; the
table also gives the total steps over the group's whole wall time (launch to the
last exit, start-up included) and the gain of each over one run.

Results go to ``--out`` (default ``results/benchmarks/packed/<UTC time>``; an existing
non-empty folder is refused): ``packed_runs.json`` (written whole, temp-and-rename)
and per group ``K/run<i>/`` (the run folders, their checkpoints removed) and
``K/run<i>.log``.  Exit status 0; 2 for bad arguments (one line); 1 when a run
failed or timed out (the line names its log).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_softras.atomic import write_json  # noqa: E402
from bench_softras.jsonl import read_records  # noqa: E402
from renderers.threads import available_cores  # noqa: E402

#: Seconds one group of runs may take before its processes are killed.
GROUP_TIMEOUT_S = 1800


def steady_rate(records: list[dict], warmup: int) -> float | None:
    """Steps per second of one run after its first ``warmup`` steps: from the first
    logged record at or after ``warmup`` to the last (``step``, ``wall_s`` of
    ``metrics.jsonl``); ``None`` when fewer than two such records or no time passed."""
    kept = [r for r in records if isinstance(r.get("step"), int)
            and isinstance(r.get("wall_s"), (int, float)) and r["step"] >= warmup]
    if len(kept) < 2 or kept[-1]["wall_s"] <= kept[0]["wall_s"]:
        return None
    return (kept[-1]["step"] - kept[0]["step"]) / (kept[-1]["wall_s"] - kept[0]["wall_s"])


def train_command(args: argparse.Namespace, seed: int, threads: int, run_dir: Path) -> list[str]:
    """The ``softras-bench train`` command line of run ``seed`` of a group."""
    cmd = [sys.executable, "-m", "bench_softras", "--threads", str(threads), "train",
           "--preset", args.preset, "--device", args.device, "--renderer", args.renderer,
           "--iterations", str(args.iterations), "--seed", str(seed),
           "--out-dir", str(run_dir), "--no-progress", "--checkpoint-every", str(10 ** 9),
           "--set", "recon.log_every=1"]
    return cmd + (["--data-dir", str(args.data_dir)] if args.data_dir else [])


def run_group(k: int, args: argparse.Namespace, out: Path) -> dict:
    """``k`` runs at once (:func:`train_command`): their exit statuses, rates
    (:func:`steady_rate`), steps done, the group's wall seconds and the threads each
    run had."""
    threads = args.threads_per_run or max(1, available_cores() // k)
    group = out / str(k)
    group.mkdir(parents=True)
    procs, logs = [], []
    t0 = time.perf_counter()
    for i in range(k):
        log = open(group / f"run{i}.log", "w")  # noqa: SIM115 - closed below
        logs.append(log)
        procs.append(subprocess.Popen(train_command(args, i, threads, group / f"run{i}"),
                                      stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, args.timeout - (time.perf_counter() - t0))))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            codes.append(None)
    wall = time.perf_counter() - t0
    for log in logs:
        log.close()
    rates, steps = [], []
    for i in range(k):
        records = read_records(group / f"run{i}" / "metrics.jsonl")
        rates.append(steady_rate(records, args.warmup))
        steps.append(max((r.get("step", 0) for r in records), default=0))
        shutil.rmtree(group / f"run{i}" / "checkpoints", ignore_errors=True)
    return {"runs": k, "threads_per_run": threads, "wall_s": wall, "returncodes": codes,
            "rates": rates, "steps": steps}


def _together(group: dict) -> float:
    """A group's summed steady rate (NaN when a run has none)."""
    rates = group["rates"]
    return sum(rates) if rates and None not in rates else float("nan")


def _gain(value: float, base: float) -> float:
    return value / base if base > 0 else float("nan")  # NaN stays NaN


def format_table(groups: list[dict]) -> str:
    """Per group: runs, threads each, steady steps/s per run (median) and together,
    the gain over one run, and total steps over the group's wall time with its gain
    (``nan`` where a run logged too little)."""
    base = next((g for g in groups if g["runs"] == 1), None)
    nan = float("nan")
    base_rate = _together(base) if base else nan
    base_whole = sum(base["steps"]) / base["wall_s"] if base else nan
    lines = [f"{'runs':>4}{'threads':>9}{'steps/s per run':>17}{'together':>10}{'gain':>7}"
             f"{'steps / wall':>14}{'gain':>7}"]
    for g in groups:
        rates = sorted(r for r in g["rates"] if r is not None)
        per_run = rates[len(rates) // 2] if rates else nan
        total, whole = _together(g), sum(g["steps"]) / g["wall_s"]
        lines.append(f"{g['runs']:>4}{g['threads_per_run']:>9}{per_run:>17.2f}{total:>10.2f}"
                     f"{_gain(total, base_rate):>6.2f}x{whole:>14.2f}"
                     f"{_gain(whole, base_whole):>6.2f}x")
    return "\n".join(lines)


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        counts = []
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(
            f"need positive run counts, comma-separated (e.g. 1,2,4), got {text!r}")
    return counts


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Training runs packed onto one device: the "
                                "throughput of K runs at once against one.")
    p.add_argument("--runs", type=_counts, default=[1, 2, 4],
                   help="comma-separated run counts (default 1,2,4)")
    p.add_argument("--preset", default="gpu", help="experiment preset (default gpu)")
    p.add_argument("--device", default="cuda", help="torch device of every run (default cuda)")
    p.add_argument("--renderer", default="softras", help="renderer (default softras)")
    p.add_argument("--iterations", type=int, default=300, help="steps per run (default 300)")
    p.add_argument("--warmup", type=int, default=20,
                   help="first steps left out of the rates (default 20)")
    p.add_argument("--data-dir", type=Path, default=None, help="benchmark data folder")
    p.add_argument("--threads-per-run", type=int, default=0,
                   help="CPU threads of each run (default: the cores / runs, at least 1)")
    p.add_argument("--timeout", type=float, default=GROUP_TIMEOUT_S,
                   help=f"seconds per group before its runs are killed (default "
                        f"{GROUP_TIMEOUT_S})")
    p.add_argument("--out", type=Path, default=None, help="results folder (must not exist "
                   "or be empty; default results/benchmarks/packed/<UTC time>)")
    args = p.parse_args(argv)
    if not 0 <= args.warmup < args.iterations - 1:
        p.error(f"need 0 <= --warmup < --iterations - 1 (two steps to time), got "
                f"--warmup {args.warmup} --iterations {args.iterations}")
    if not 0 <= args.threads_per_run <= available_cores():
        p.error(f"--threads-per-run must be 0 (automatic) .. {available_cores()} (the cores "
                f"here), got {args.threads_per_run}")
    if args.timeout <= 0:
        p.error(f"--timeout must be positive seconds, got {args.timeout}")
    if args.device.startswith("cuda") and not _cuda_available():
        p.error(f"--device {args.device}: torch sees no CUDA device here; use --device cpu "
                "or run on a GPU machine")
    if args.out is None:
        args.out = ROOT / "results" / "benchmarks" / "packed" / time.strftime(
            "%Y%m%dT%H%M%SZ", time.gmtime())
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        p.error(f"--out {args.out} exists and is not an empty folder: name a new one")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    groups = []
    for k in args.runs:
        print(f"{k} run(s) at once ...", flush=True)
        groups.append(run_group(k, args, args.out))
        write_json(args.out / "packed_runs.json",
                   {"settings": {"preset": args.preset, "device": args.device,
                                 "renderer": args.renderer, "iterations": args.iterations,
                                 "warmup": args.warmup, "load_average": os.getloadavg()},
                    "groups": groups}, indent=1)
    print(format_table(groups))
    failed = [(g["runs"], i, c) for g in groups for i, c in enumerate(g["returncodes"])
              if c != 0]
    for k, i, code in failed:
        why = "timed out" if code is None else f"exit status {code}"
        print(f"run {i} of the {k}-run group {why}: see {args.out / str(k) / f'run{i}.log'}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
