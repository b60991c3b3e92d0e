"""Thread scaling of every Taichi renderer and of the training step, 1 vs 2 threads.

Run on an idle machine (about 3 minutes on 2 cores)::

    python benchmarks/scaling.py            # the table
    python benchmarks/scaling.py --json F   # also the raw figures
    python benchmarks/scaling.py --threads 1,4,16   # other thread counts (a 16-core host)

For each thread count (:data:`THREADS`) fresh worker processes (``--worker N``: torch,
Taichi and OpenMP sized to ``N`` before they load; :mod:`renderers.threads`) times, at
the paper setting (B 64, the 1280-face template sphere, 64x64, sigma 3e-5, float32,
the benchmark cameras), the forward (``render``) and the backward (``.backward()`` of
a weighted sum) of every renderer in :data:`RENDERERS` separately, ``softras``
forward+backward, and the ``cpu``-preset training step split
(:mod:`bench_softras.studies.step_split`).  Medians of :data:`ROUNDS` rounds after
warm-up (Taichi compiles on the first call), then the median over :data:`PROCESSES`
processes per thread count, started alternately (1, 2, 1, 2, ...): on a VM one process
can run a few percent faster or slower than another for its whole life, which one
process per count would read as a thread-scaling difference.

Beside each time it records the process's CPU time and run-queue wait per call, from
``/proc/self/task/*/schedstat`` (nanoseconds, per thread): CPU time / wall time is the
parallelism a call achieved; run-queue wait (time a thread was ready but had no core)
says the machine was not idle, and then the wall-time ratios are not the idle figures
(the table flags it).  The targets (issue 22): 2 threads at least
:data:`SCALING_TARGET` x faster than 1, forward and backward, for every renderer.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The Taichi renderers (``softras_torch`` is torch, the peers are other libraries);
#: ``softras[autodiff]`` is ``softras`` with ``backward="autodiff"``.
RENDERERS = ("softras", "softras[autodiff]", "n3mr", "hard", "dibr", "antialias",
             "edgegrad")
THREADS = (1, 2)
ROUNDS = 9
STEP_ROUNDS = 4
#: Fresh worker processes per thread count (their medians' median).
PROCESSES = 3
#: 2-thread speed-up aimed for (issue 22, idle 2-core machine).
SCALING_TARGET = 1.7
#: Speed-ups over 1 thread aimed for at other thread counts (issue 22: a GPU machine's
#: 16-core host, ``--threads 1,4,16``).
HOST_TARGETS = {16: 8.0}
#: Run-queue wait above this share of the CPU time marks a measurement as loaded.
LOADED_WAIT_SHARE = 0.1
#: Cores' worth of CPU time that other processes may use while the workers run for
#: the machine to count as idle (:func:`machine_busy`).
OTHERS_IDLE_CORES = 0.1
BATCH, IMAGE = 64, 64


def thread_clock() -> tuple[float, float, float]:
    """``(cpu_s, runqueue_wait_s, main_cpu_s)``: CPU time and run-queue wait summed over
    this process's threads, and the main thread's CPU time (schedstat, nanoseconds)."""
    cpu = wait = main = 0.0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as fh:
                run_ns, wait_ns, _ = fh.read().split()
        except (OSError, ValueError):  # a thread that just ended
            continue
        cpu += int(run_ns) * 1e-9
        wait += int(wait_ns) * 1e-9
        if int(tid) == os.getpid():
            main = int(run_ns) * 1e-9
    return cpu, wait, main


def machine_cpu_seconds() -> float:
    """CPU seconds used on this kernel so far by every process (``/proc/stat``'s
    ``cpu`` line: user, nice, system, irq and softirq; USER_HZ ticks)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


def timed(fn, rounds: int) -> dict[str, float]:
    """Median wall, CPU, run-queue wait and main-thread CPU seconds of ``fn()`` over
    ``rounds`` calls."""
    rows = []
    for _ in range(rounds):
        c0 = thread_clock()
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        c1 = thread_clock()
        rows.append((wall, *(b - a for a, b in zip(c0, c1, strict=True))))
    return {k: statistics.median(r[i] for r in rows)
            for i, k in enumerate(("wall", "cpu", "wait", "main"))}


def idle_estimate(one: dict[str, float], two: dict[str, float]) -> float:
    """Speed-up that 2 threads would give on idle cores, from CPU times alone (so it
    holds on a busy machine): 1-thread CPU time over the 2-thread critical path, taken
    as the main thread's CPU time (serial: Python, launches, torch's one-thread ops)
    plus half the other threads' (the parallel work, split evenly)."""
    path = two["main"] + (two["cpu"] - two["main"]) / 2
    return one["cpu"] / max(path, 1e-12)


def _scene():
    import torch

    import renderers
    from metrics.meshes import template_sphere

    v, f = template_sphere()
    verts = torch.as_tensor(v, dtype=torch.float32)[None].expand(BATCH, -1, -1)
    cam = renderers.Camera.benchmark(torch.arange(BATCH) % 24)
    return verts.contiguous(), torch.as_tensor(f), cam


def _build(label: str):
    import renderers
    from renderers.soft_math import DEFAULT_SIGMA

    name, _, variant = label.partition("[")
    options = {"backward": variant.rstrip("]")} if variant else {}
    return renderers.build(name, image_size=IMAGE, sharpness=DEFAULT_SIGMA, **options)


def renderer_rows(label: str, rounds: int) -> dict[str, dict[str, float]]:
    """``{"forward", "backward", "fwd+bwd"}`` timings (:func:`timed`) of renderer
    ``label`` at the paper setting."""
    import torch

    verts, faces, cam = _scene()
    r = _build(label)
    weight = torch.rand(BATCH, IMAGE, IMAGE, generator=torch.Generator().manual_seed(0))
    state: dict = {}

    def forward():
        state["v"] = verts.clone().requires_grad_(True)
        state["loss"] = (r.render(state["v"], faces, cam) * weight).sum()

    def backward():
        state["loss"].backward()

    def both():
        forward()
        backward()

    for _ in range(2):  # compile and warm up
        both()
    fwd, bwd = [], []
    for _ in range(rounds):  # forward and backward of the same calls
        fwd.append(timed(forward, 1))
        bwd.append(timed(backward, 1))
    med = {k: {q: statistics.median(x[q] for x in rows) for q in fwd[0]}
           for k, rows in (("forward", fwd), ("backward", bwd))}
    med["fwd+bwd"] = timed(both, rounds)
    return med


def step_rows(rounds: int) -> dict:
    """The ``cpu``-preset training step (``softras``): whole-step timing and the median
    seconds per group of :mod:`bench_softras.studies.step_split`."""
    from bench_softras.commands.options import resolve_data_dir
    from bench_softras.settings import CPU
    from bench_softras.studies.step_split import (
        GROUPS,
        StepSplitConfig,
        setup_step,
        split_step,
        summarize,
    )

    data_dir = resolve_data_dir("", CPU, progress=False)
    cfg = StepSplitConfig(preset="cpu", renderer="softras", steps=rounds,
                          data_dir=str(data_dir))
    args = setup_step(cfg, CPU.recon)
    split_step(*args)  # warm-up
    laps: list = []
    whole = timed(lambda: laps.append(split_step(*args)), rounds)
    df = summarize(laps, cfg, args[6])
    groups = df[df["kind"] == "group"].set_index("item")["time_s"]
    return {"step": whole, "split": {g: float(groups[g]) for g in GROUPS}}


def worker(threads: int, labels: list[str], step: bool, rounds: int = ROUNDS) -> dict:
    """All timings at ``threads`` threads (this process's pools sized first), medians
    of ``rounds`` rounds (the training step: at most :data:`STEP_ROUNDS`)."""
    from renderers import threads as pools  # isort: skip

    pools.prefer_passive_wait()
    pools.configure(threads)
    from renderers.taichi_runtime import ensure_init

    ensure_init("cpu")
    out: dict = {"threads": threads, "load_start": os.getloadavg()[0], "renderers": {}}
    start = (machine_cpu_seconds(), own_cpu_seconds(), time.perf_counter())
    for label in labels:
        out["renderers"][label] = renderer_rows(label, rounds)
    out["zero_gradient"] = [label for label in labels if _build(label).zero_gradient]
    if step:
        out["step"] = step_rows(min(rounds, STEP_ROUNDS))
    end = (machine_cpu_seconds(), own_cpu_seconds(), time.perf_counter())
    others = (end[0] - start[0]) - (end[1] - start[1])
    out["others_cores"] = max(others, 0.0) / max(end[2] - start[2], 1e-9)
    out["load_end"] = os.getloadavg()[0]
    return out


def run_worker(threads: int, labels: list[str], step: bool, rounds: int = ROUNDS) -> dict:
    """:func:`worker` in a fresh process (thread pools sized before torch loads)."""
    env = {**os.environ, "SOFTRAS_BENCH_THREADS": str(threads),
           "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(threads),
           "--renderers", ",".join(labels), "--rounds", str(rounds)] + \
        ([] if step else ["--no-step"])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"worker ({threads} threads) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median_fields(timings: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(t[k] for t in timings) for k in timings[0]}


def merge_workers(runs: list[dict]) -> dict:
    """One :func:`worker` result from several processes at one thread count: each
    timing field (and each step-split group) the median over the processes; the load
    average at the first one's start and the last one's end; ``processes``: how many;
    ``others_cores``: the most any of them saw other processes use (``None``: not
    measured); ``walls``: each renderer pass's wall seconds in every process, in the
    order they ran (:func:`pair_speedups`); ``zero_gradient``: the renderers whose
    backward runs no kernel (:func:`no_kernel`)."""
    first = runs[0]
    out = {"threads": first["threads"], "processes": len(runs),
           "others_cores": max((r["others_cores"] for r in runs if "others_cores" in r),
                               default=None),
           "load_start": first["load_start"], "load_end": runs[-1]["load_end"],
           "renderers": {label: {kind: _median_fields([r["renderers"][label][kind]
                                                       for r in runs])
                                 for kind in passes}
                         for label, passes in first["renderers"].items()},
           "walls": {label: {kind: [r["renderers"][label][kind]["wall"] for r in runs]
                             for kind in passes}
                     for label, passes in first["renderers"].items()},
           "zero_gradient": first.get("zero_gradient", [])}
    if "step" in first:
        out["step"] = {part: _median_fields([r["step"][part] for r in runs])
                       for part in ("step", "split")}
    return out


def run_workers(labels: list[str], step: bool, rounds: int = ROUNDS,
                processes: int = PROCESSES,
                threads: tuple[int, ...] = THREADS) -> dict[int, dict]:
    """``{threads: merged result}`` (:func:`merge_workers`) of ``processes`` fresh
    :func:`run_worker` processes per thread count in ``threads``, started alternately."""
    runs: dict[int, list[dict]] = {n: [] for n in threads}
    for _ in range(processes):
        for n in threads:
            runs[n].append(run_worker(n, labels, step, rounds))
    return {n: merge_workers(r) for n, r in runs.items()}


def pair_speedups(results: dict[int, dict], label: str, kind: str,
                  counts: tuple[int, int] = (THREADS[0], THREADS[-1])) -> list[float]:
    """The wall-time speed-up of ``counts[1]`` threads over ``counts[0]`` (2 over 1) for
    renderer ``label``'s pass ``kind`` in each pair of processes (the ``k``-th process at
    each count, started one after the other by :func:`run_workers`); empty without
    per-process walls."""
    one, two = (results[n].get("walls", {}).get(label, {}).get(kind, []) for n in counts)
    return [a / b for a, b in zip(one, two, strict=False) if b > 0]


def pair_range(speedups: list[float]) -> str:
    """``"1.41-1.62x"``, the range of two or more pairs' speed-ups (a table column);
    ``""`` for fewer than two."""
    return f"{min(speedups):.2f}-{max(speedups):.2f}x" if len(speedups) > 1 else ""


def pair_spread(speedups: list[float], target: float | None = SCALING_TARGET) -> str:
    """``"per pair 1.41x-1.62x"`` for two or more pairs (:func:`pair_speedups`, or any
    per-pair ratios), with ``", on both sides of the target"`` when ``target`` (``None``:
    none) lies within that range (the verdict then depends on which processes ran);
    ``""`` for fewer than two."""
    if len(speedups) < 2:
        return ""
    lo, hi = min(speedups), max(speedups)
    both = target is not None and lo < target <= hi
    return f"per pair {lo:.2f}x-{hi:.2f}x" + (", on both sides of the target" if both else "")


def _flag(t: dict) -> str:
    return "*" if t["wait"] > LOADED_WAIT_SHARE * max(t["cpu"], 1e-9) else " "


def busy(*times: dict[str, float]) -> bool:
    """Whether any of these timings (:func:`timed`) waited in the run queue for more
    than :data:`LOADED_WAIT_SHARE` of its CPU time (the machine was not idle)."""
    return any(_flag(t) == "*" for t in times)


def others_cores(results: dict[int, dict]) -> float | None:
    """The most cores' worth of CPU time other processes used while any worker ran
    (``/proc/stat`` less the worker's own CPU time, over its run); ``None`` when the
    workers did not measure it."""
    seen = [r["others_cores"] for r in results.values() if r.get("others_cores") is not None]
    return max(seen) if seen else None


def machine_busy(results: dict[int, dict]) -> bool | None:
    """Whether other processes used more than :data:`OTHERS_IDLE_CORES` cores while the
    workers ran (:func:`others_cores`; ``None``: not measured).  A worker's own threads
    also wait in the run queue (on 2 cores: the main thread, torch's second thread and
    two Taichi workers), so run-queue wait alone does not say another process was
    there."""
    others = others_cores(results)
    return None if others is None else others > OTHERS_IDLE_CORES


def no_kernel(results: dict[int, dict], label: str, kind: str) -> bool:
    """Whether pass ``kind`` of renderer ``label`` runs no kernel at all: the backward
    of a renderer whose gradient is zero by definition (``hard``:
    :attr:`renderers.base.Rasterizer.zero_gradient`), a zero tensor in well under a
    millisecond, so the thread target does not apply to it."""
    return kind == "backward" and any(label in r.get("zero_gradient", ())
                                      for r in results.values())


#: The verdict cell and footnote of a pass that runs no kernel (:func:`no_kernel`).
NO_KERNEL = "n/a"
NO_KERNEL_NOTE = (f"{NO_KERNEL}: zero gradient by definition; the backward runs no kernel "
                  "(a zero tensor), so there is nothing for threads to share")


def judged_speedup(one: dict[str, float], two: dict[str, float],
                   machine: bool | None = None) -> tuple[float, bool]:
    """``(speed-up, estimated)``: the wall-time speed-up of 2 threads (timing ``two``)
    over 1 (``one``), or, when the machine was busy, the CPU-time estimate
    :func:`idle_estimate` and ``True``; NaN then when a call was too short for the
    scheduler to have counted its CPU time (zero).  Busy: ``machine``
    (:func:`machine_busy`) when known, else either timing waited in the run queue
    (:func:`busy`)."""
    if busy(one, two) if machine is None else machine:
        if one["cpu"] <= 0 or two["cpu"] <= 0:
            return math.nan, True
        return idle_estimate(one, two), True
    return one["wall"] / two["wall"], False


def pass_rows(results: dict[int, dict]) -> list[tuple[str, str, dict, dict]]:
    """``(renderer, pass, 1-thread timing, 2-thread timing)`` for every renderer and
    pass (forward, backward, fwd+bwd) of :func:`run_worker` results by thread count."""
    one, two = results[THREADS[0]], results[THREADS[-1]]
    return [(label, kind, r[kind], two["renderers"][label][kind])
            for label, r in one["renderers"].items()
            for kind in ("forward", "backward", "fwd+bwd")]


def format_table(results: dict[int, dict]) -> str:
    """The scaling table: per renderer and pass, wall ms at each thread count, CPU /
    wall (parallelism) at 2 threads, the wall-time speed-up and verdict, and the
    speed-up estimated from CPU times (:func:`idle_estimate`; what idle cores would
    give); ``*`` marks a time with run-queue wait above :data:`LOADED_WAIT_SHARE` of
    its CPU time.  The verdicts use the wall ratios when the machine was idle, the
    estimates when other processes were busy (:func:`machine_busy`; when unknown, a
    row's ``*`` decides, :func:`judged_speedup`)."""
    one, two = results[THREADS[0]], results[THREADS[-1]]
    machine = machine_busy(results)
    lines = [f"{'renderer':<20}{'pass':<10}{'1 thr ms':>10}{'2 thr ms':>10}"
             f"{'cpu/wall':>10}{'speed-up':>10}{'est idle':>10}{'per pair':>14}  verdict "
             f"(target >= {SCALING_TARGET}x)"]
    loaded = skipped = False
    rows = pass_rows(results)
    if "step" in one and "step" in two:
        rows.append(("training step", "cpu", one["step"]["step"], two["step"]["step"]))
    for label, kind, a, b in rows:
        flags = _flag(a) + _flag(b)
        loaded |= "*" in flags
        speed, est = a["wall"] / b["wall"], idle_estimate(a, b)
        judged = judged_speedup(a, b, machine)[0]
        verdict = "" if kind not in ("forward", "backward") else \
            NO_KERNEL if no_kernel(results, label, kind) else "?" if math.isnan(judged) \
            else ("ok" if judged >= SCALING_TARGET else "MISSED")
        skipped |= verdict == NO_KERNEL
        spread = pair_range(pair_speedups(results, label, kind))
        lines.append(f"{label:<20}{kind:<10}{a['wall'] * 1e3:>9.1f}{flags[0]}"
                     f"{b['wall'] * 1e3:>9.1f}{flags[1]}{b['cpu'] / b['wall']:>10.2f}"
                     f"{speed:>9.2f}x{est:>9.2f}x{spread:>14}  {verdict}")
    for n, res in ((THREADS[0], one), (THREADS[-1], two)):
        if "step" in res:
            split = res["step"]["split"]
            total = sum(split.values())
            cells = "  ".join(f"{g} {t * 1e3:.0f} ({t / total:.0%})" for g, t in split.items())
            lines.append(f"training step split at {n} thread(s), median ms: {cells}")
    lines.append(f"load average: {one['load_start']:.2f} -> {two['load_end']:.2f}; medians "
                 f"over {one.get('processes', 1)} fresh process(es) per thread count"
                 + ("; per pair: the wall speed-ups of the k-th 1- and 2-thread processes"
                    if one.get("processes", 1) > 1 else ""))
    if skipped:
        lines.append(NO_KERNEL_NOTE)
    if machine is not None:
        lines.append(f"other processes used up to {others_cores(results):.2f} cores while "
                     "the workers ran: "
                     + ("busy; the verdicts use the CPU-time estimates" if machine else
                        "idle; the verdicts use the wall times"))
        if loaded:
            lines.append("* run-queue wait > 10% of CPU time (this process's own threads, "
                         "or other processes)")
    elif loaded:
        lines.append("* run-queue wait > 10% of CPU time: the machine was busy; the wall "
                     "ratios are not the idle figures (their verdicts use the estimate)")
    return "\n".join(lines)


def format_counts(results: dict[int, dict]) -> str:
    """The table for any thread counts (``--threads``, e.g. a 16-core host): per
    renderer and pass the median wall ms at each count and the wall speed-up of each
    count over the first, with the verdict against :data:`HOST_TARGETS` where a count
    has one (forward and backward rows), and the range of the highest count's speed-up
    over the pairs of processes (:func:`pair_speedups`)."""
    counts = sorted(results)
    first = results[counts[0]]
    head = "".join(f"{f'{n} thr ms':>11}" for n in counts)
    head += "".join(f"{f'x{n}':>8}" for n in counts[1:]) + f"{f'x{counts[-1]} per pair':>18}"
    lines = [f"{'renderer':<20}{'pass':<10}{head}  verdicts " + ", ".join(
        f">= {t:g}x at {n}" for n, t in HOST_TARGETS.items() if n in counts)]
    rows = [(label, kind, [results[n]["renderers"][label][kind] for n in counts])
            for label in first["renderers"] for kind in ("forward", "backward", "fwd+bwd")]
    if all("step" in results[n] for n in counts):
        rows.append(("training step", "cpu", [results[n]["step"]["step"] for n in counts]))
    skipped = False
    for label, kind, timings in rows:
        speed = [timings[0]["wall"] / t["wall"] for t in timings[1:]]
        verdicts = [NO_KERNEL if no_kernel(results, label, kind) else
                    ("ok" if x >= HOST_TARGETS[n] else "MISSED")
                    for n, x in zip(counts[1:], speed, strict=True)
                    if n in HOST_TARGETS and kind in ("forward", "backward")]
        skipped |= NO_KERNEL in verdicts
        spread = pair_range(pair_speedups(results, label, kind, (counts[0], counts[-1])))
        lines.append(f"{label:<20}{kind:<10}"
                     + "".join(f"{t['wall'] * 1e3:>11.1f}" for t in timings)
                     + "".join(f"{x:>7.2f}x" for x in speed) + f"{spread:>18}  "
                     + " ".join(verdicts))
    others = others_cores(results)
    lines.append(f"load average: {first['load_start']:.2f} -> "
                 f"{results[counts[-1]]['load_end']:.2f}; medians over "
                 f"{first.get('processes', 1)} fresh process(es) per thread count"
                 + ("" if others is None else
                    f"; other processes used up to {others:.2f} cores"))
    if skipped:
        lines.append(NO_KERNEL_NOTE)
    return "\n".join(lines)


def _thread_counts(text: str) -> tuple[int, ...]:
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        counts = []
    if len(counts) < 2 or counts[0] < 1:
        raise argparse.ArgumentTypeError(
            f"need two or more positive thread counts, comma-separated, got {text!r}")
    return tuple(counts)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"need a positive integer, got {text!r}")
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--renderers", default=",".join(RENDERERS),
                   help="comma-separated renderer labels (default: all Taichi renderers)")
    p.add_argument("--no-step", dest="step", action="store_false",
                   help="skip the training step")
    p.add_argument("--rounds", type=_positive, default=ROUNDS,
                   help=f"timed rounds per pass (default {ROUNDS})")
    p.add_argument("--processes", type=_positive, default=PROCESSES,
                   help=f"fresh processes per thread count (default {PROCESSES})")
    p.add_argument("--threads", type=_thread_counts, default=THREADS,
                   help="comma-separated thread counts (default 1,2: the 1-vs-2 table of "
                        "issue 22's target 1; e.g. 1,4,16 on a 16-core host)")
    p.add_argument("--json", type=Path, help="also write the raw figures here")
    args = p.parse_args(argv)
    labels = [x for x in args.renderers.split(",") if x]
    if args.worker:
        print(json.dumps(worker(args.worker, labels, args.step, args.rounds)))
        return 0
    from renderers.threads import max_threads

    if args.threads[-1] > max_threads():
        p.error(f"--threads: {args.threads[-1]} threads is more than this machine allows "
                f"({max_threads()}); give counts up to its cores")
    results = run_workers(labels, args.step, args.rounds, args.processes, args.threads)
    print(format_table(results) if args.threads == THREADS else format_counts(results))
    if args.json:
        from bench_softras.atomic import write_json  # temp-and-rename

        write_json(args.json, results, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
