"""What a results directory from someone else, or a mistyped option, can do (issue 20):
run ids stay one folder, paths read from results files stay inside the run directory,
files follow the umask, write failures name the file, thread counts are bounded and
``~`` means the home directory in every path option.  (Checkpoints: weights only,
tests/experiments/test_exp_checkpoint_security.py.)"""

from __future__ import annotations

import argparse
import errno
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench_softras import atomic, cli, runs, shards
from bench_softras.main_job import MainJobConfig
from bench_softras.report.build import build_report
from bench_softras.report.results import read_run_logs, read_table
from bench_softras.safe_paths import UnsafePathError, check_run_id, contained

BAD_RUN_IDS = ["../../x", "/tmp/abs", ".", "..", "a" * 300, "a/b", "-x", ".hidden",
               "x y", "x\ny"]
GOOD_RUN_IDS = ["cpu", "paper-2024.06_a", "a" * 100, "7"]


def _one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


# -- run ids ------------------------------------------------------------------------------
@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_bad_run_id_is_refused_by_the_api(run_id):
    with pytest.raises(ValueError, match="run id"):
        check_run_id(run_id)
    with pytest.raises(ValueError, match="run id"):
        MainJobConfig(preset="smoke", run_id=run_id)


@pytest.mark.parametrize("run_id", GOOD_RUN_IDS)
def test_safe_run_ids_are_kept(run_id, tmp_path):
    cfg = MainJobConfig(preset="smoke", run_id=run_id, results_root=str(tmp_path))
    assert check_run_id(run_id) == run_id and cfg.results_dir == tmp_path / run_id


@pytest.mark.parametrize("run_id", ["../../x", "/tmp/abs", ".", "a" * 300])
def test_bad_run_id_exits_2_in_one_line_and_writes_nothing(run_id, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("bench_softras.main_job._run_locked",
                        lambda *a: pytest.fail("the job ran with an unsafe run id"))
    root = tmp_path / "a" / "b"
    code = cli.main(["report", "--preset", "smoke", "--run-id", run_id, "--results-root",
                     str(root / "results"), "--reports-root", str(root / "reports")])
    assert code == 2
    _one_line(capsys, "--run-id", "run id")
    assert not (root / "results").exists() and not (root / "reports").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("recorded", ["../../escaped", "/tmp/escaped_abs", "."])
def test_from_results_refuses_the_run_id_of_its_run_json(recorded, tmp_path, capsys):
    run_dir = tmp_path / "shared" / "run1"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"run_id": recorded, "config": {}}))
    reports = tmp_path / "a" / "b" / "reports"
    code = cli.main(["report", "--from-results", str(run_dir), "--reports-root",
                     str(reports)])
    assert code == 2
    _one_line(capsys, str(run_dir / "run.json"), "run id")
    assert not (tmp_path / "a" / "escaped").exists() and not reports.exists()
    assert not Path("/tmp/escaped_abs").exists()


# -- paths named by results files stay inside the run directory ----------------------------
def _secret(tmp_path: Path) -> Path:
    """A CSV of "the machine", outside any run directory."""
    p = tmp_path / "elsewhere" / "secret.csv"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("renderer,class_id,voxel_iou\nSECRET,000,0.5\n")
    return p


def _plan(stage_out: Path, unit_dir: str) -> Path:
    plan = {"stage": "reconstruction", "shard": "1/1", "written": 1.0,
            "units": [{"label": "softras seed 0", "dir": unit_dir, "key": "k", "shard": 1}]}
    path = stage_out / "shards" / "1_of_1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan))
    return path


def _unit(unit_dir: Path, table: str) -> Path:
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / "unit.json"
    path.write_text(json.dumps({"label": "x", "key": "k", "tables": {"recon_iou": table}}))
    return path


def test_plan_naming_a_unit_outside_the_stage_is_refused(tmp_path):
    secret = _secret(tmp_path)
    stage_out = tmp_path / "run" / "reconstruction"
    _unit(secret.parent, "secret.csv")
    plan = _plan(stage_out, "../../elsewhere")
    with pytest.raises(UnsafePathError, match="leads outside") as exc:
        shards.merge_units(stage_out, "recon_iou")
    assert str(plan) in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink"])
def test_unit_json_naming_a_table_outside_is_refused(tmp_path, how):
    secret = _secret(tmp_path)
    stage_out = tmp_path / "run" / "reconstruction"
    _plan(stage_out, "softras/seed_0")
    unit_dir = stage_out / "softras" / "seed_0"
    if how == "symlink":
        unit_dir.mkdir(parents=True)
        (unit_dir / "recon_iou.csv").symlink_to(secret)
        table = "recon_iou.csv"
    else:
        table = "../../../../elsewhere/secret.csv" if how == "relative" else str(secret)
    unit_json = _unit(unit_dir, table)
    with pytest.raises(UnsafePathError) as exc:
        shards.merge_units(stage_out, "recon_iou")
    assert str(unit_json) in str(exc.value)


def test_a_unit_inside_is_merged(tmp_path):
    stage_out = tmp_path / "run" / "reconstruction"
    _plan(stage_out, "softras/seed_0")
    unit_dir = stage_out / "softras" / "seed_0"
    _unit(unit_dir, "recon_iou.csv")
    (unit_dir / "recon_iou.csv").write_text("renderer,voxel_iou\nsoftras,0.5\n")
    df, missing = shards.merge_units(stage_out, "recon_iou")
    assert df["renderer"].tolist() == ["softras"] and missing == []


def test_fixed_name_symlinked_out_of_the_run_is_refused(tmp_path):
    secret = _secret(tmp_path)
    run = tmp_path / "run"
    (run / "timing").mkdir(parents=True)
    (run / "timing" / "timing.csv").symlink_to(secret)
    with pytest.raises(UnsafePathError, match="timing.csv"):
        read_table(run, "timing")
    (run / "reconstruction" / "softras" / "seed_0").mkdir(parents=True)
    (run / "reconstruction" / "softras" / "seed_0" / "curve.jsonl").symlink_to(secret)
    with pytest.raises(UnsafePathError, match="curve.jsonl"):
        read_run_logs(run, "curve.jsonl")
    (run / "timing" / "timing.csv").unlink()
    (run / "reconstruction" / "softras" / "seed_0" / "curve.jsonl").unlink()
    (run / "run.json").write_text(json.dumps({"run_id": "run", "config": {}}))
    (run / "environment.json").symlink_to(secret)
    with pytest.raises(UnsafePathError, match="environment.json"):
        build_report(run, tmp_path / "report")


def test_stage_json_outputs_outside_are_refused(tmp_path):
    secret = _secret(tmp_path)
    run = tmp_path / "run"
    config = {"x": 1}
    runs.write_stage_record(run, "timing", config, 1.0, [])
    rec = json.loads((run / "timing" / "stage.json").read_text())
    rec["outputs"] = [os.path.relpath(secret, run)]
    (run / "timing" / "stage.json").write_text(json.dumps(rec))
    with pytest.raises(UnsafePathError, match="stage.json"):
        runs.stage_done(run, "timing", config)


def test_a_stage_folder_symlinked_out_is_not_written(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (run / "timing").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError):
        runs.run_stage(run, "timing", {}, lambda d: pytest.fail("the stage ran"))


def test_examples_refuse_a_renderer_name_that_leads_out(tmp_path):
    from bench_softras.stages.examples import run_examples

    run = tmp_path / "run"
    runs.write_stage_record(run, "reconstruction", {
        "renderers": ["../../../elsewhere"], "seeds": [0], "recon": {}}, 1.0, [])
    with pytest.raises(UnsafePathError, match="stage.json"):
        run_examples(run, run / "examples")


def test_from_results_with_a_crafted_plan_exits_2_naming_it(tmp_path, capsys):
    secret = _secret(tmp_path)
    run = tmp_path / "shared" / "run1"
    (run).mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"run_id": "run1", "config": {}}))
    _unit(secret.parent, "secret.csv")
    plan = _plan(run / "reconstruction", "../../../elsewhere")
    out = tmp_path / "report"
    code = cli.main(["report", "--from-results", str(run), "--report-dir", str(out)])
    assert code == 2
    _one_line(capsys, str(plan), "outside")
    assert not any("SECRET" in p.read_text(errors="replace")
                   for p in out.rglob("*") if p.is_file())


def test_contained_accepts_inside_and_refuses_non_paths(tmp_path):
    (tmp_path / "a").mkdir()
    assert contained(tmp_path, "a/b.csv") == (tmp_path / "a" / "b.csv").resolve()
    assert contained(tmp_path, tmp_path / "a") == (tmp_path / "a").resolve()
    for bad in (None, 3, "", ["a"]):
        with pytest.raises(UnsafePathError, match="not a path"):
            contained(tmp_path, bad, "x.json")


# -- permissions follow the umask ----------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        d = tmp_path / "new_dir"
        written = [atomic.write_text(d / "a.txt", "x"), atomic.write_json(d / "b.json", {}),
                   atomic.write_table(pd.DataFrame({"x": [1]}), d / "c.csv"),
                   atomic.write_table(pd.DataFrame({"x": [1]}), d / "c.parquet"),
                   atomic.write_npz(d / "d.npz", a=np.zeros(2)),
                   atomic.write_bytes(d / "e.bin", b"x")]
    finally:
        os.umask(old)
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p
    assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~mask


# -- write failures: one line naming the file and the reason --------------------------------
def test_full_disk_names_the_file_and_keeps_the_old_content(tmp_path):
    p = tmp_path / "t.csv"
    atomic.write_text(p, "old")

    def full(tmp):
        with open(tmp, "w") as fh:
            fh.write("part")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(atomic.WriteError) as exc:
        atomic.write_with(p, full)
    text = str(exc.value)
    assert str(p) in text and "no space left on device" in text and "\n" not in text
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["t.csv"]


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_read_only_folder_names_the_file(tmp_path, monkeypatch, code):
    def refuse(*a, dir=None, **k):
        raise OSError(code, os.strerror(code), dir)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    target = tmp_path / "sub" / "x.json"
    with pytest.raises(atomic.WriteError) as exc:
        atomic.write_json(target, {"a": 1})
    assert str(target) in str(exc.value)
    assert os.strerror(code).lower() in str(exc.value)


def test_failed_rename_names_the_destination(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(src), str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(atomic.WriteError, match="operation not permitted") as exc:
        atomic.write_text(tmp_path / "r.txt", "x")
    assert str(tmp_path / "r.txt") in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_an_error_about_another_file_is_not_renamed(tmp_path):
    def reads_input(tmp):
        open(tmp_path / "missing_input.txt").read()

    with pytest.raises(FileNotFoundError) as exc:
        atomic.write_with(tmp_path / "out.txt", reads_input)
    assert not isinstance(exc.value, atomic.WriteError)


def test_full_disk_in_the_cli_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run1"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run_id": "run1", "config": {}}))

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "report"
    assert cli.main(["report", "--from-results", str(run), "--report-dir", str(out)]) == 2
    _one_line(capsys, str(out), "no space left on device", "free some space")


# -- thread counts ----------------------------------------------------------------------
@pytest.fixture
def no_pools(monkeypatch):
    """Record what would size torch's and Taichi's pools instead of sizing them (a huge
    count must never start: this keeps even a regression from starting it)."""
    import torch

    from renderers import taichi_runtime

    sized: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", sized.append)
    for name in ("_init", "reinit"):  # every ti.init of the suite goes through these
        monkeypatch.setattr(taichi_runtime, name, lambda *a, **k: sized.append(-1) or "cpu")
    return sized


@pytest.mark.parametrize("argv", [["--threads", "100000", "renderers"],
                                  ["renderers", "--threads=100000"]])
def test_huge_thread_count_is_refused_before_any_pool(argv, capsys, no_pools):
    from renderers import threads

    assert cli.main(argv) == 2
    _one_line(capsys, "100000", f"at most {threads.max_threads()}")
    assert no_pools == []


def test_huge_thread_count_from_the_environment(monkeypatch, capsys, no_pools):
    from renderers import threads

    monkeypatch.setenv(threads.THREADS_ENV, "100000")
    assert cli.main(["renderers"]) == 2
    _one_line(capsys, threads.THREADS_ENV, "at most")
    assert no_pools == []


def test_thread_cap_is_a_small_multiple_of_the_cores(monkeypatch, no_pools):
    from renderers import threads

    monkeypatch.setattr(threads, "available_cores", lambda: 3)
    assert threads.max_threads() == 3 * threads.MAX_THREADS_PER_CORE
    assert threads.parse_threads(str(threads.max_threads())) == threads.max_threads()
    with pytest.raises(ValueError, match=f"at most {threads.max_threads()}"):
        threads.parse_threads(threads.max_threads() + 1)
    with pytest.raises(ValueError, match="at most"):
        threads.configure(10 ** 6)


# -- ~ in path options ------------------------------------------------------------------
def test_main_job_expands_home_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = MainJobConfig(preset="smoke", results_root="~/r", reports_root="~/p",
                        data_dir="~/d")
    home = tmp_path / "home"
    assert cfg.results_dir == home / "r" / "smoke" and cfg.report_dir == home / "p" / "smoke"
    assert cfg.data_dir == str(home / "d")


class _Parsed(Exception):
    pass


#: Per command: arguments with ``~`` in every path option, and the fields to check.
TILDE_ARGS = {
    "report": (["--results-root=~/r", "--reports-root", "~/p", "--data-dir", "~/d",
                "--from-results", "~/f", "--report-dir", "~/o"],
               ["results_root", "reports_root", "data_dir", "from_results", "report_dir"]),
    "train": (["--out-dir", "~/o", "--data-dir", "~/d"], ["out_dir", "data_dir"]),
    "evaluate": (["--out-dir", "~/o", "--checkpoint", "~/c.pt", "--data-dir", "~/d"],
                 ["out_dir", "checkpoint", "data_dir"]),
    "fit": (["--out-dir", "~/o", "--data-dir", "~/d"], ["out_dir", "data_dir"]),
    "gradients": (["--out", "~/o"], ["out"]),
    "timing": (["--out", "~/o"], ["out"]),
    "step-split": (["--out", "~/o", "--data-dir", "~/d"], ["out", "data_dir"]),
}


@pytest.mark.parametrize("command", sorted(TILDE_ARGS))
def test_every_path_option_expands_home(command, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    parsed = []
    original = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        parsed.append(original(self, args, namespace))
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    argv, fields = TILDE_ARGS[command]
    with pytest.raises(_Parsed):
        cli.main([command, *argv])
    for field in fields:
        value = getattr(parsed[0], field)
        for v in value if isinstance(value, list) else [value]:
            assert "~" not in str(v) and str(v).startswith(str(home)), (field, v)


@pytest.mark.parametrize("content", [[None], [1, 2], "done", 3])
def test_a_stage_record_that_is_not_an_object_means_not_done(tmp_path, content):
    """A damaged ``stage.json`` (valid JSON, not an object) used to crash the main job's
    skip check with an AttributeError; the stage now counts as not finished."""
    from bench_softras.runs import read_stage_record, stage_dir, stage_done

    d = stage_dir(tmp_path, "fitting")
    d.mkdir(parents=True)
    (d / "stage.json").write_text(json.dumps(content))
    assert read_stage_record(tmp_path, "fitting") is None
    assert stage_done(tmp_path, "fitting", {}) is False
