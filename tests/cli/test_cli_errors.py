"""Every user mistake on the command line: one line naming the problem and the fix,
exit status 2, before any expensive stage; tracebacks only for bugs or with --debug."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest
import torch

from bench_softras import cli
from bench_softras.data import images_path, voxels_path
from bench_softras.data.synthetic import CACHE_ENV
from bench_softras.runlock import run_lock


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and err.startswith("softras-bench ")
    for n in needles:
        assert n in err, err
    return err


def _bad_data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    images_path(d, "chair", "test").write_text("just some text\n")
    voxels_path(d, "chair", "test").write_text("more text\n")
    return d


def test_dataset_file_error_is_one_line_exit_2(tmp_path, capsys, no_work):
    d = _bad_data_dir(tmp_path)
    code = cli.main(["evaluate", "--out-dir", str(tmp_path / "o"), "--data-dir", str(d),
                     "--checkpoint", str(tmp_path / "c.pt"), "--preset", "smoke",
                     "--no-progress"])
    assert code == 2
    err = _one_line_error(capsys, "chair_test_images.npz")
    assert "allow_pickle" not in err


def test_debug_shows_the_traceback(tmp_path):
    d = _bad_data_dir(tmp_path)
    from bench_softras.data import DatasetFileError

    with pytest.raises(DatasetFileError, match="not a .npz archive"):
        cli.main(["evaluate", "--debug", "--out-dir", str(tmp_path / "o"), "--data-dir",
                  str(d), "--checkpoint", str(tmp_path / "c.pt"), "--preset", "smoke",
                  "--no-progress"])


NO_GPU = "cuda:99" if torch.cuda.is_available() else "cuda"


@pytest.mark.parametrize("argv, needles", [
    (["train", "--device", NO_GPU], ["--device", NO_GPU, "--device cpu" if NO_GPU == "cuda"
                                     else "numbered from 0"]),
    (["timing", "--device", NO_GPU], ["--device", NO_GPU]),
    (["train", "--device", "gpu"], ["'gpu' is not one", "use cpu, cuda"]),
    (["report", "--device", "gpu"], ["'gpu' is not one", "use cpu, cuda"]),
    (["report", "--seeds", "abc"], ["--seeds", "comma-separated integers", "'abc'"]),
    (["evaluate", "--train", "--seeds", "1,x"], ["--seeds", "'1,x'"]),
    (["train", "--iterations", "-3"], ["iterations=-3"]),
    (["train", "--renderer", "nope"], ["unknown renderer 'nope'", "available"]),
    (["train", "--preset", "huge"], ["unknown preset 'huge'"]),
])
def test_bad_option_values(tmp_path, capsys, no_work, argv, needles):
    out = ["--out", str(tmp_path / "t")] if argv[0] == "timing" else [
        "--out-dir", str(tmp_path / "t")]
    assert cli.main(argv + out + ["--no-progress"]) == 2
    _one_line_error(capsys, *needles)
    assert not (tmp_path / "t").exists()  # nothing ran, nothing recorded


def test_report_device_gpu_is_not_recorded(tmp_path, capsys, no_work):
    assert cli.main(["report", "--device", "gpu", "--preset", "smoke", "--results-root",
                     str(tmp_path / "r"), "--no-progress"]) == 2
    assert not (tmp_path / "r").exists()  # no run.json with the rejected value


def _read_only_dir(tmp_path):
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    try:  # root writes anywhere chmod allows; a read-only system directory then
        with tempfile.TemporaryFile(dir="/sys"):
            pass
    except OSError:
        return "/sys"
    pytest.skip("running as root with no read-only directory to try")


def test_read_only_results_root(tmp_path, capsys, no_work):
    ro = _read_only_dir(tmp_path)
    code = cli.main(["report", "--preset", "smoke", "--results-root", f"{ro}/results",
                     "--reports-root", str(tmp_path / "p"), "--no-progress"])
    assert code == 2
    _one_line_error(capsys, "--results-root", "writable directory")


def test_results_root_below_a_file(tmp_path, capsys, no_work):
    (tmp_path / "f").write_text("")
    assert cli.main(["report", "--preset", "smoke", "--results-root", str(tmp_path / "f/r"),
                     "--no-progress"]) == 2
    _one_line_error(capsys, "is a file, not a directory")


def test_second_job_into_the_same_run_fails_at_once(tmp_path, capsys, no_work):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom bench_softras.runlock import run_lock\n"
         "with run_lock(sys.argv[1], command=['first-job']):\n print('ok', flush=True)\n"
         " time.sleep(60)\n", str(tmp_path / "r" / "smoke")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        t0 = time.monotonic()
        assert cli.main(["report", "--preset", "smoke", "--results-root", str(tmp_path / "r"),
                         "--reports-root", str(tmp_path / "p"), "--no-progress"]) == 2
        assert time.monotonic() - t0 < 30
        _one_line_error(capsys, f"pid {holder.pid}", "first-job", "--wait")
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path / "r" / "smoke"):  # the killed job's lock does not block
        pass


def _run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench_softras", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["timing", "--help"],
                                  ["report", "--help"]])
def test_help_has_no_taichi_banner(argv):
    r = _run(*argv)
    assert r.returncode == 0 and "usage:" in r.stdout
    assert "[Taichi]" not in r.stdout + r.stderr


@pytest.mark.slow
def test_console_shows_a_summary_and_run_log_the_configuration(tmp_path):
    r = _run("report", "--preset", "smoke", "--stages", "data", "--results-root",
             str(tmp_path / "r"), "--reports-root", str(tmp_path / "p"), "--no-progress",
             env={CACHE_ENV: str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stderr.splitlines()) < 400, r.stderr
    assert "full configuration in" in r.stderr and '"recon"' not in r.stderr
    assert '"recon"' in (tmp_path / "r" / "smoke" / "run.log").read_text()


def test_report_dir_without_from_results_is_refused(tmp_path, capsys, no_work):
    # A job writes to <reports-root>/<run-id>; --report-dir there used to be ignored.
    code = cli.main(["report", "--report-dir", str(tmp_path / "r"), "--results-root",
                     str(tmp_path / "res"), "--no-progress"])
    assert code == 2
    _one_line_error(capsys, "--report-dir", "--from-results", "--reports-root")
    assert not (tmp_path / "r").exists() and not (tmp_path / "res").exists()
