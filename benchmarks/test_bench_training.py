"""pytest-benchmark: the training side, idle and under load (``load`` fixture).

* ``test_step_split``: one ``cpu``-preset reconstruction step with ``softras``, split
  into data, generator, renderer, loss and optimizer
  (:mod:`bench_softras.studies.step_split`; five timed steps after one warm-up;
  the benchmark's time is the whole step).  The
  terminal summary prints the split and the renderer's share (target <= 15%).
* ``test_smoke_main_job``: the whole ``smoke`` main job (``python -m bench_softras report
  --preset smoke``) in a fresh process, into a temporary results folder; one round.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench_softras.studies.step_split import (
    GROUPS,
    StepSplitConfig,
    setup_step,
    split_step,
    summarize,
)

STEPS = 5


@pytest.fixture(scope="module")
def step_args():
    from bench_softras.commands.options import resolve_data_dir
    from bench_softras.settings import CPU

    data_dir = resolve_data_dir("", CPU, progress=False)
    cfg = StepSplitConfig(preset="cpu", renderer="softras", data_dir=str(data_dir))
    return cfg, setup_step(cfg, CPU.recon)


def test_step_split(benchmark, load, step_args):
    cfg, args = step_args
    laps = []
    benchmark.pedantic(lambda: laps.append(split_step(*args)), rounds=STEPS, iterations=1,
                       warmup_rounds=1)
    df = summarize(laps[1:], cfg, args[6])
    df = df[df["kind"] != "part"].set_index("item")["time_s"]
    benchmark.extra_info.update(
        item="cpu-preset training step (softras)", load=load,
        split={**{g: float(df[g]) for g in GROUPS}, "step": float(df["step"])})


@pytest.fixture(scope="module")
def smoke_data():
    """Build (or find) the smoke preset's synthetic data before any timing."""
    from bench_softras.commands.options import resolve_data_dir
    from bench_softras.settings import SMOKE

    return resolve_data_dir("", SMOKE, progress=False)


def test_smoke_main_job(benchmark, load, smoke_data, tmp_path):
    cmd = [sys.executable, "-m", "bench_softras", "report", "--preset", "smoke",
           "--run-id", f"bench-{load}", "--results-root", str(tmp_path / "results"),
           "--reports-root", str(tmp_path / "reports"), "--no-progress"]

    def run():
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-2000:]

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(item="smoke main job", load=load)
