"""Thread pools (renderers.threads), the --threads option and the background load."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch
from random_meshes import random_faces

from bench_softras import cli
from bench_softras.studies.background_load import busy_processes
from renderers import taichi_runtime, threads


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("text, expect", [("150000 100000", 1.5), ("max 100000", None),
                                          ("200000 50000", 4.0)])
def test_cgroup_v2_quota(tmp_path, text, expect):
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/job/a\n")
    _write(tmp_path / "fs" / "job" / "a" / "cpu.max", text)
    assert threads.cgroup_cpu_limit(tmp_path / "fs", proc) == expect


def test_cgroup_v2_root_file_when_own_directory_is_absent(tmp_path):
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/not/mounted/here\n")
    _write(tmp_path / "fs" / "cpu.max", "50000 100000")
    assert threads.cgroup_cpu_limit(tmp_path / "fs", proc) == 0.5


@pytest.mark.parametrize("quota, expect", [("-1", None), ("300000", 3.0)])
def test_cgroup_v1_quota(tmp_path, quota, expect):
    proc = tmp_path / "proc_cgroup"
    _write(proc, "4:memory:/x\n1:cpu,cpuacct:/docker/abc\n")
    d = tmp_path / "fs" / "cpu,cpuacct" / "docker" / "abc"
    _write(d / "cpu.cfs_quota_us", quota)
    _write(d / "cpu.cfs_period_us", "100000")
    assert threads.cgroup_cpu_limit(tmp_path / "fs", proc) == expect


def test_no_cgroup_files_means_no_limit(tmp_path):
    assert threads.cgroup_cpu_limit(tmp_path / "none", tmp_path / "missing") is None


def test_available_cores_takes_affinity_and_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: 1.5)
    assert threads.available_cores() == 2  # quota 1.5 CPUs -> 2 threads, not 8
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: None)
    assert threads.available_cores() == 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: 0.2)
    assert threads.available_cores() == 1


@pytest.mark.parametrize("bad", ["0", "-2", "two", "", "1.5"])
def test_bad_thread_counts_are_one_clear_error(monkeypatch, bad):
    monkeypatch.setenv(threads.THREADS_ENV, bad or " x")
    with pytest.raises(ValueError, match=threads.THREADS_ENV):
        threads.default_threads()


def test_env_sets_the_default(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    assert threads.default_threads() == 3
    monkeypatch.delenv(threads.THREADS_ENV)
    assert threads.default_threads() == threads.available_cores()


@pytest.fixture
def restore_threads(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    yield
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    threads.configure(before)
    os.environ.pop(threads.THREADS_ENV, None)


def test_configure_sets_torch_and_taichi(restore_threads):
    taichi_runtime.ensure_init("cpu")
    assert threads.configure(1) == 1
    assert torch.get_num_threads() == 1
    assert taichi_runtime.current_threads() == 1  # Taichi was re-initialised
    assert os.environ[threads.THREADS_ENV] == "1"
    s = threads.settings()
    assert s["threads"] == 1 and s["source"] == "option" and s["taichi_threads"] == 1


def test_renderers_still_work_after_a_taichi_reinit(restore_threads):
    import renderers

    r = renderers.get("softras", image_size=16, sigma=1e-3)
    fv = random_faces(1, 5, seed=2)
    a = r.rasterize(fv)
    threads.configure(1)
    torch.testing.assert_close(r.rasterize(fv), a)


def test_cli_threads_option(restore_threads, capsys):
    assert cli.main(["renderers", "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1 and taichi_runtime.current_threads() in (None, 1)
    assert cli.main(["--threads=0", "renderers"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--threads must be a positive integer" in err[0]
    assert cli.main(["renderers", "--threads"]) == 2


def test_pop_threads():
    assert cli.pop_threads(["a", "--threads", "2", "b"]) == (["a", "b"], "2")
    assert cli.pop_threads(["--threads=3", "x"]) == (["x"], "3")
    assert cli.pop_threads(["x"]) == (["x"], None)


def _child(code: str, **env) -> str:
    e = {k: v for k, v in os.environ.items() if k not in threads.PASSIVE_WAIT_ENV}
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=e, check=True, timeout=120).stdout.strip().splitlines()[-1]


def test_passive_wait_is_set_before_torch_loads():
    code = ("import renderers, os; from renderers import threads; "
            "print(os.environ['OMP_WAIT_POLICY'], os.environ['KMP_BLOCKTIME'], "
            "os.environ['GOMP_SPINCOUNT'], threads.settings()['passive_wait_effective'])")
    assert _child(code) == "PASSIVE 0 1000 True"
    assert _child(code, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE 0 1000 True"  # the user's wins
    assert _child(code, GOMP_SPINCOUNT="0") == "PASSIVE 0 0 True"
    assert _child("import torch; " + code) == "PASSIVE 0 1000 False"  # too late, says so


def test_busy_processes_run_then_stop():
    with busy_processes(2, max_seconds=60) as procs:
        assert len(procs) == 2
        time.sleep(0.2)
        assert all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)


def test_busy_processes_stop_by_themselves():
    with busy_processes(1, max_seconds=0.3) as procs:
        procs[0].wait(timeout=30)
        assert procs[0].returncode == 0


def test_busy_processes_reject_bad_arguments():
    with pytest.raises(ValueError, match="max_seconds"):
        with busy_processes(1, max_seconds=0):
            pass
