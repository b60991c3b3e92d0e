"""The ratios of issue 22's targets, each measured side by side in one run, and one
summary table (``nox -s bench``; the full run took 3 min 43 s on 2 idle cores on
2026-12-06, ``--quick`` 54 s)::

    python benchmarks/targets.py [--quick] [--only load,kernels] [--out DIR]

Sections (``--only``; all by default), each at the paper setting (B 64, the 1280-face
template sphere, 64x64, sigma 3e-5, float32) or the ``cpu`` preset's training step:

* ``scaling`` (target 1): every Taichi renderer's forward and backward at 1 and 2
  threads in fresh processes (:mod:`scaling`); its table is printed as it is; the
  summary takes the wall speed-up, or the CPU-time estimate when the machine was busy.
* ``load`` (targets 0 and 4): every Taichi renderer's forward+backward and the training
  step, idle and beside two busy torch processes and two busy Python loops
  (:mod:`background`), in alternating blocks; ratio loaded / idle (median of the calls).
* ``kernels`` (target 2): ``softras`` forward+backward at the default threads, today's
  code against the first kernels (:data:`FIRST_KERNELS`, its ``renderers/`` exported
  from git into a temporary folder), in pairs of worker processes timed in alternation
  (:mod:`side_worker`; ``Plan.side_pairs`` fresh pairs one after the other, their calls
  pooled, each pair's ratio in the row); ratio old / new.
* ``step`` (target 3): the training step, today's against :data:`STEP_BASELINE`'s
  ``bench_softras``, ``renderers`` and ``metrics``, the same way; ratio old / new.
* ``pytorch3d`` (target 4): PyTorch3D's CPU soft silhouette (``pytorch3d_soft``) /
  ``softras``, idle; skipped when PyTorch3D does not import.
* ``share`` (target 4): the renderer's share of the training step
  (:func:`bench_softras.studies.step_split.run_step_split`).

A section whose git history is missing (no ``.git``, a shallow clone) is skipped with
that reason.  Each row records the 1-minute load average before and after its section;
the summary's header names the CPU model, the usable cores and the commit, and
``targets.json`` holds the whole environment
(:func:`bench_softras.environment.collect_environment`).
The summary goes to ``targets.json`` and ``targets.csv`` (and the scaling figures to
``scaling.json``) in ``--out`` (default ``results/benchmarks/targets/<UTC time>``).
Exit status 1 when a measurement failed (a row with no figure), else 0: a missed target
is a finding, not an error.
"""

from __future__ import annotations

from renderers.threads import prefer_passive_wait  # isort: skip

prefer_passive_wait()  # before torch loads its OpenMP runtime

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from background import LOAD_RATIO_TARGET, background_load  # noqa: E402
from scaling import PROCESSES, ROUNDS, SCALING_TARGET  # noqa: E402
from side_by_side import FIRST_KERNELS, STEP_BASELINE, compare_commits  # noqa: E402
from target_table import Criterion, Row, format_rows, with_load, write_rows  # noqa: E402

from bench_softras.atomic import write_json  # noqa: E402
from bench_softras.environment import collect_environment  # noqa: E402
from bench_softras.studies.step_split import RENDERER_SHARE_TARGET  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("scaling", "load", "kernels", "step", "pytorch3d", "share")
#: Criteria of the targets (issue 22).
SCALING_CRITERION = Criterion(">=", SCALING_TARGET)
SHARE_CRITERION = Criterion("<=", RENDERER_SHARE_TARGET, "%")
LOAD_CRITERION = Criterion("<=", LOAD_RATIO_TARGET)
KERNELS_CRITERION = Criterion(">=", 3.0)
STEP_CRITERION = Criterion(">=", 2.0)
PYTORCH3D_CRITERION = Criterion(">=", 300.0)
#: Section -> (target, criterion) of the row that reports its failure.
FAILED_ROW = {"scaling": ("1", SCALING_CRITERION), "load": ("0/4", LOAD_CRITERION),
              "kernels": ("2", KERNELS_CRITERION), "step": ("3", STEP_CRITERION),
              "pytorch3d": ("4", PYTORCH3D_CRITERION), "share": ("4", SHARE_CRITERION)}
#: Loads of the ``load`` section, in the order of each block.
LOADS = ("idle", "torch", "python")


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much to time: ``scaling_rounds`` per pass and thread count in each of
    ``scaling_processes`` fresh processes per thread count; ``load_rounds``
    blocks of every load with ``load_calls`` calls of each item per block;
    ``side_pairs`` fresh pairs of old and new worker processes, each timed in
    ``side_rounds`` alternations of ``side_calls`` calls (``softras``) or ``step_calls``
    steps; ``split_steps`` timed steps of the split."""

    scaling_rounds: int = ROUNDS
    scaling_processes: int = PROCESSES
    load_rounds: int = 3
    load_calls: int = 4
    side_pairs: int = 3
    side_rounds: int = 4
    side_calls: int = 8
    step_calls: int = 4
    split_steps: int = 5


QUICK = Plan(scaling_rounds=3, scaling_processes=1, load_rounds=1, load_calls=2,
             side_pairs=1, side_rounds=2, side_calls=3, step_calls=2, split_steps=2)


def _cpu_data_dir() -> str:
    """The ``cpu`` preset's data set (built on first use)."""
    from bench_softras.commands.options import resolve_data_dir
    from bench_softras.settings import CPU

    return str(resolve_data_dir("", CPU, progress=False))


def _renderer_call(label: str) -> Callable[[], None]:
    """forward+backward of renderer ``label`` at the paper setting (:mod:`scaling`)."""
    import torch
    from scaling import BATCH, IMAGE, _build, _scene

    verts, faces, cam = _scene()
    r = _build(label)
    weight = torch.rand(BATCH, IMAGE, IMAGE, generator=torch.Generator().manual_seed(0))

    def call() -> None:
        v = verts.clone().requires_grad_(True)
        (r.render(v, faces, cam) * weight).sum().backward()

    return call


def _step_call(data_dir: str) -> Callable[[], None]:
    """One ``cpu``-preset training step (``train_step``, silhouette-only)."""
    from bench_softras.experiments.train import train_step
    from bench_softras.settings import CPU
    from bench_softras.studies.step_split import StepSplitConfig, setup_step

    args = setup_step(StepSplitConfig(preset="cpu", renderer="softras", data_dir=data_dir),
                      CPU.recon)
    return lambda: train_step(*args)


def _time(fn: Callable[[], None], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure_scaling(labels: list[str], plan: Plan, out_dir: Path) -> list[Row]:
    """Target 1: the scaling table (printed) and one row per renderer and pass."""
    from scaling import (
        format_table,
        judged_speedup,
        machine_busy,
        no_kernel,
        pair_speedups,
        pair_spread,
        pass_rows,
        run_workers,
    )

    results = run_workers(labels, True, plan.scaling_rounds, plan.scaling_processes)
    write_json(out_dir / "scaling.json", results, indent=1)
    print(format_table(results), flush=True)
    rows = []
    machine = machine_busy(results)
    for label, kind, one, two in pass_rows(results):
        if kind == "fwd+bwd":
            continue
        ratio, est = judged_speedup(one, two, machine)
        wall = f"{one['wall'] * 1e3:.1f} -> {two['wall'] * 1e3:.1f} ms"
        item = f"{label} {kind} 2 vs 1 thread"
        if no_kernel(results, label, kind):
            rows.append(Row("1", item, SCALING_CRITERION, skip="zero gradient by definition: "
                            f"the backward runs no kernel; wall {wall}"))
            continue
        if math.isnan(ratio):
            rows.append(Row("1", item, SCALING_CRITERION, skip="machine busy and the call too "
                            f"short for a CPU-time estimate; wall {wall} (measure idle)"))
            continue
        how = (f"busy: CPU-time estimate (wall {one['wall'] / two['wall']:.2f}x)" if est
               else "idle wall times")
        spread = "" if est else pair_spread(pair_speedups(results, label, kind))
        how += f"; {spread}" if spread else ""
        rows.append(Row("1", item, SCALING_CRITERION, ratio, detail=f"{wall}; {how}"))
    return rows


def measure_load(labels: list[str], plan: Plan, data_dir: str) -> list[Row]:
    """Targets 0 and 4: loaded / idle ratio of every item beside each load kind."""
    items = {f"fwd+bwd {label}": _renderer_call(label) for label in labels}
    items["cpu training step"] = _step_call(data_dir)
    for fn in items.values():
        _time(fn, 2)  # compile and warm up
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(plan.load_rounds):
        for kind in LOADS:
            with background_load(kind):
                for item, fn in items.items():
                    times.setdefault((item, kind), []).extend(_time(fn, plan.load_calls))
    rows = []
    for item in items:
        idle = statistics.median(times[item, "idle"])
        for kind in LOADS[1:]:
            loaded = statistics.median(times[item, kind])
            rows.append(Row("0/4", f"{item} | 2 busy {kind}", LOAD_CRITERION, loaded / idle,
                            detail=f"idle {idle * 1e3:.0f} ms, loaded {loaded * 1e3:.0f} ms "
                                   f"(medians of {len(times[item, kind])})"))
    return rows


def measure_pytorch3d(plan: Plan) -> list[Row]:
    """Target 4: ``pytorch3d_soft`` / ``softras`` forward+backward, idle."""
    from renderers.peers import absent_peers

    item = "pytorch3d_soft / softras"
    why = absent_peers().get("pytorch3d_soft")
    if why is not None:
        return [Row("4", item, PYTORCH3D_CRITERION,
                    skip=f"pytorch3d not installed ({why}): scripts/pytorch3d_rasterizer.py "
                    "builds its rasterizer in a minute (docs/renderers.md)")]
    ours, theirs = _renderer_call("softras"), _renderer_call("pytorch3d_soft")
    _time(ours, 2)
    t_ours = statistics.median(_time(ours, plan.side_calls))
    t_theirs = _time(theirs, 1)[0]  # tens of seconds per call: one
    return [Row("4", item, PYTORCH3D_CRITERION, t_theirs / t_ours,
                detail=f"pytorch3d_soft {t_theirs:.1f} s (one call), softras "
                       f"{t_ours * 1e3:.0f} ms (median of {plan.side_calls})")]


def measure_share(plan: Plan, data_dir: str) -> list[Row]:
    """Target 4: the renderer's share of a ``cpu``-preset training step."""
    from bench_softras.settings import CPU
    from bench_softras.studies.step_split import StepSplitConfig, format_split, run_step_split

    cfg = StepSplitConfig(preset="cpu", renderer="softras", steps=plan.split_steps,
                          data_dir=data_dir)
    df = run_step_split(cfg, CPU.recon)
    print(format_split(df), flush=True)
    by = df.set_index("item")
    share = float(by.loc["renderer", "share"])
    return [Row("4", "renderer share of the cpu step", SHARE_CRITERION, share,
                detail=f"renderer {by.loc['renderer', 'time_s'] * 1e3:.0f} ms of a "
                       f"{by.loc['step', 'time_s'] * 1e3:.0f} ms step (median of "
                       f"{plan.split_steps})")]


def measure_side(section: str, plan: Plan, data_dir: str) -> list[Row]:
    """Targets 2 (``kernels``) and 3 (``step``): old / new, side by side."""
    if section == "kernels":
        from scaling import IMAGE

        from renderers.soft_math import DEFAULT_SIGMA

        return [compare_commits("softras", FIRST_KERNELS, ("renderers",), plan.side_rounds,
                                plan.side_calls, ROOT, target="2",
                                item=f"softras fwd+bwd {FIRST_KERNELS} / today",
                                criterion=KERNELS_CRITERION, pairs=plan.side_pairs,
                                sigma=str(DEFAULT_SIGMA),
                                image=str(IMAGE))]
    return [compare_commits("step", STEP_BASELINE, ("bench_softras", "renderers", "metrics"),
                            plan.side_rounds, plan.step_calls, ROOT, target="3",
                            item=f"cpu step {STEP_BASELINE} / today",
                            criterion=STEP_CRITERION, pairs=plan.side_pairs,
                            data_dir=data_dir)]


def run_section(section: str, labels: list[str], plan: Plan, out_dir: Path,
                data_dir: Callable[[], str]) -> list[Row]:
    """One section's rows, each with the load average before and after; a failure
    becomes one row with no figure that names the error."""
    before = os.getloadavg()[0]
    try:
        if section == "scaling":
            rows = measure_scaling(labels, plan, out_dir)
        elif section == "load":
            rows = measure_load(labels, plan, data_dir())
        elif section in ("kernels", "step"):
            rows = measure_side(section, plan, data_dir())
        elif section == "pytorch3d":
            rows = measure_pytorch3d(plan)
        else:
            rows = measure_share(plan, data_dir())
    except Exception as exc:  # reported in the summary; the other sections still run
        target, crit = FAILED_ROW[section]
        last = (str(exc).strip().splitlines() or [""])[-1]
        rows = [Row(target, f"{section}: no figure", crit,
                    detail=f"failed: {type(exc).__name__}: {last}")]
    after = os.getloadavg()[0]
    return [with_load(r, before, after) for r in rows]


def _sections(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SECTIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown section(s) {bad or text!r}; choose from "
                                          f"{','.join(SECTIONS)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from scaling import RENDERERS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer rounds (a check that it runs; the ratios are rough)")
    p.add_argument("--only", type=_sections, default=list(SECTIONS),
                   help=f"comma-separated sections (default all: {','.join(SECTIONS)})")
    p.add_argument("--renderers", default=",".join(RENDERERS),
                   help="Taichi renderer labels of the scaling and load sections")
    p.add_argument("--out", type=Path, help="output folder (default "
                   "results/benchmarks/targets/<UTC time>)")
    args = p.parse_args(argv)
    import renderers

    unknown = [x for x in args.renderers.split(",") if x
               and x.partition("[")[0] not in renderers.available()]
    if unknown:
        p.error(f"--renderers: unknown renderer(s) {unknown}; registered: "
                f"{', '.join(renderers.available())}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from renderers import threads

    threads.configure()
    plan = QUICK if args.quick else Plan()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_dir = args.out or ROOT / "results" / "benchmarks" / "targets" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = [x for x in args.renderers.split(",") if x]
    cache: dict[str, str] = {}

    def data_dir() -> str:
        if "d" not in cache:
            cache["d"] = _cpu_data_dir()
        return cache["d"]

    start = os.getloadavg()
    rows: list[Row] = []
    for section in args.only:
        print(f"--- {section} ---", flush=True)
        rows += run_section(section, labels, plan, out_dir, data_dir)
    env = collect_environment("cpu")
    commit = env["git_commit"] or "unknown"
    commit = commit[:7] + ("+dirty" if commit.endswith("+dirty") else "")
    meta = {"quick": args.quick, "plan": dataclasses.asdict(plan), "threads":
            threads.settings(), "load_average_start": start,
            "load_average_end": os.getloadavg(), "time_utc": stamp, "environment": env}
    paths = write_rows(rows, out_dir, meta)
    print(f"\n=== issue 22 targets ({'quick' if args.quick else 'full'} run; "
          f"{env['cpu']['model']}, {env['cpu']['usable_cores']} usable cores; commit "
          f"{commit}; load average {start[0]:.2f} -> {os.getloadavg()[0]:.2f}) ===")
    print(format_rows(rows))
    print("written: " + ", ".join(map(str, paths)))
    return 1 if any(r.verdict == "no figure" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
