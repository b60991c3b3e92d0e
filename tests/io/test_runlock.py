"""One job at a time per run directory: a second job fails at once naming the holder
or waits; a lock left by a killed (kill -9) job never blocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bench_softras.runlock import RunLockedError, read_holder, run_lock

HOLDER = textwrap.dedent("""
    import sys, time
    from bench_softras.runlock import run_lock
    with run_lock(sys.argv[1], command=["holder-job", "--run-id", "x"]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
        open(sys.argv[1] + ".finished", "w").close()  # written while still holding
""")


def _hold(directory, seconds: float) -> subprocess.Popen:
    """A subprocess holding ``directory``'s lock for ``seconds`` (returns once held)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_job_fails_at_once_naming_the_holder(tmp_path):
    proc = _hold(tmp_path / "run", 60)
    try:
        t0 = time.monotonic()
        with pytest.raises(RunLockedError, match=rf"pid {proc.pid} on .*holder-job --run-id x"
                           ) as err:
            with run_lock(tmp_path / "run"):
                pass
        assert time.monotonic() - t0 < 5
        assert "--wait" in str(err.value)
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_job_does_not_block(tmp_path):
    proc = _hold(tmp_path / "run", 60)
    assert read_holder(tmp_path / "run")["pid"] == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with run_lock(tmp_path / "run", command=["next"]):  # no wait needed, no error
        assert read_holder(tmp_path / "run")["command"] == "next"
    assert read_holder(tmp_path / "run") == {}  # released: no stale record


def test_wait_starts_when_the_holder_is_done(tmp_path):
    proc = _hold(tmp_path / "run", 1.0)
    try:
        with run_lock(tmp_path / "run", wait=True):
            assert (tmp_path / "run.finished").exists()  # the holder had finished
    finally:
        proc.wait()


def test_the_same_process_can_run_again_after_release(tmp_path):
    for _ in range(2):
        with run_lock(tmp_path / "run"):
            pass


def test_shards_share_the_run_lock_and_an_exclusive_job_is_refused(tmp_path):
    """Shards (``shared=True``) hold the run directory together; an unsharded job
    (exclusive) fails at once naming them, and gets it once they are done."""
    with run_lock(tmp_path, shared=True), run_lock(tmp_path, shared=True):
        with pytest.raises(RunLockedError, match="sharded jobs"):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):
        with pytest.raises(RunLockedError):
            with run_lock(tmp_path, shared=True):
                pass
