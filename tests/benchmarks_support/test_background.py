"""``benchmarks/background.py``: the background load starts its processes and never
leaves them running (end of block, exception, interrupt, the bench killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import background
import pytest
from background import (
    MATMUL_SIZE,
    THREAD_VARIABLES,
    background_load,
    child_command,
    child_environment,
)

from renderers.threads import available_cores


def _gone(pids, within: float = 20.0) -> bool:
    """Whether every pid has exited (and been reaped) within ``within`` seconds."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not any(os.path.exists(f"/proc/{p}") for p in pids):
            return True
        time.sleep(0.05)
    return False


def _running(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] in "RS"


def test_python_load_runs_during_the_block_and_is_killed_after():
    with background_load("python", 2) as procs:
        pids = [p.pid for p in procs]
        assert len(pids) == 2 and all(p.poll() is None and _running(p.pid) for p in procs)
    assert all(p.returncode is not None for p in procs)
    assert _gone(pids)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_load_is_killed_when_the_block_raises(error):
    with pytest.raises(error):
        with background_load("python", 2) as procs:
            pids = [p.pid for p in procs]
            raise error("stop")
    assert _gone(pids)


def test_idle_starts_nothing():
    with background_load("idle") as procs:
        assert procs == []
    with background_load(None) as procs:
        assert procs == []


def test_load_stops_by_itself_when_the_bench_is_killed(tmp_path):
    script = ("import sys, time\nsys.path[:0] = {path!r}\nfrom background import "
              "background_load\nwith background_load('python', 2) as ps:\n"
              "    print(' '.join(str(p.pid) for p in ps), flush=True)\n    time.sleep(300)\n")
    path = [os.path.dirname(sys.modules["background"].__file__)]
    bench = subprocess.Popen([sys.executable, "-c", script.format(path=path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in bench.stdout.readline().split()]
        assert len(pids) == 2
        bench.send_signal(signal.SIGKILL)  # no clean-up in the bench
        bench.wait(timeout=30)
        assert _gone(pids, within=30)  # they notice the parent is gone
    finally:
        bench.kill()
        bench.stdout.close()


def test_torch_load_runs_at_torchs_default_threads(monkeypatch):
    for key in THREAD_VARIABLES:
        monkeypatch.setenv(key, "1")
    env = child_environment("torch")
    assert env["OMP_NUM_THREADS"] == str(available_cores())
    assert not any(key in env for key in THREAD_VARIABLES if key != "OMP_NUM_THREADS")
    assert child_environment("python")["SOFTRAS_BENCH_THREADS"] == "1"  # not touched
    code = child_command("torch", 60, parent=123)[-1]
    assert "a @ b" in code and "parent = 123" in code
    assert f"torch.rand({MATMUL_SIZE}, {MATMUL_SIZE})" in code  # float32, torch's default


@pytest.mark.parametrize("kind, seconds", [("gpu", 10), ("python", 0), ("torch", -1)])
def test_bad_arguments_are_refused_before_anything_starts(kind, seconds):
    with pytest.raises(ValueError, match="kind|max_seconds"):
        with background_load(kind, 2, max_seconds=seconds):
            pass


def test_a_process_that_never_says_ready_is_killed(monkeypatch):
    stopped, real_stop = [], background.stop
    monkeypatch.setattr(background, "stop", lambda ps: (stopped.extend(ps), real_stop(ps)))
    with pytest.raises(RuntimeError, match="did not start"):
        with background_load("python", 2, ready_timeout=1e-6):
            pass
    assert len(stopped) == 2 and _gone([p.pid for p in stopped])
