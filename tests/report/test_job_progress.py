"""The main job's progress lines and estimate, its end summary, and the command-line help
and output messages that go with them."""

from __future__ import annotations

import logging
import time

import pandas as pd
import pytest

from bench_softras import cli, stages
from bench_softras.job_progress import JobProgress, progress_default
from bench_softras.report.stats import CROSSED
from bench_softras.report.summary import headline_lines


def planned_units(stage: str, config: dict) -> float:
    return stages.get(stage).units(config)


def test_planned_units_follow_the_stage_configuration():
    recon = {"recon": {"iterations": 2400, "batch_size": 32}, "renderers": ["a", "b", "c"],
             "seeds": [0]}
    assert planned_units("reconstruction", recon) == 3 * 2400 * 32
    assert planned_units("reconstruction", {**recon, "seeds": [0, 1]}) == 2 * 3 * 2400 * 32
    fit = {"fit": {"steps": 120}, "shapes": ["x"] * 13,
           "renderers": ["softras", "hard", "softras_torch"],
           "fit_bench": {"slow_renderers": ["softras_torch"], "slow_targets": 1,
                         "slow_steps": 60, "tuning_targets": 0}}
    assert planned_units("fitting", fit) == 13 * 2 * 120 + 60
    # The cpu preset's reconstruction (6 families x 1500 steps, one seed) is priced at
    # its measured 1446 s.
    cpu = {"recon": {"iterations": 1500, "batch_size": 32}, "renderers": ["r"] * 6,
           "seeds": [0]}
    assert stages.get("reconstruction").seconds(cpu) == pytest.approx(1446.0)
    # a stage that does not count its work is priced at one unit
    assert stages.get("data").units({}) == 1.0


def test_progress_line_counts_stages_and_estimates_what_is_left(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    p = JobProgress({"fitting": 100.0, "reconstruction": 1000.0, "timing": 50.0},
                    heartbeat_s=None)
    p.begin("fitting")
    assert p.line() == "stage 1/3 fitting, elapsed 0s, about 19m10s left"
    clock[0] += 200.0  # fitting ran twice as slow as priced ...
    p.end("fitting", "ran")
    p.begin("reconstruction")
    # ... so the rest is estimated at twice its price: 2 x 1050 s.
    assert p.remaining() == pytest.approx(2100.0)
    assert p.line().startswith("stage 2/3 reconstruction, elapsed 3m20s, about 35m00s")
    clock[0] += 600.0
    assert p.remaining() == pytest.approx(2000 - 600 + 100)
    p.end("reconstruction", "ran")
    p.begin("timing")
    p.end("timing", "skipped")  # a skipped stage costs nothing
    assert p.remaining() == 0.0


def test_small_stages_do_not_set_the_speed(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    p = JobProgress({"gradients": 5.0, "reconstruction": 1000.0}, heartbeat_s=None)
    p.begin("gradients")
    clock[0] += 60.0  # start-up (kernel compilation), not planned work
    p.end("gradients", "ran")
    assert p.speed() == 1.0


def test_heartbeat_logs_while_a_stage_runs(caplog):
    p = JobProgress({"reconstruction": 100.0}, heartbeat_s=0.05)
    with caplog.at_level(logging.INFO, logger="bench_softras.main_job"):
        p.begin("reconstruction")
        time.sleep(0.3)
        p.end("reconstruction", "ran")
        n = len(caplog.records)
        time.sleep(0.15)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("stage 1/1 reconstruction" in m for m in lines) >= 3
    assert len(caplog.records) == n  # stopped with the stage


def test_progress_bars_are_off_when_output_is_not_a_terminal():
    # pytest captures stderr, so it is not a terminal here.
    assert progress_default() is False


def test_report_help_shows_threads_and_progress(capsys):
    assert cli.main(["report", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--threads N" in out and "--progress, --no-progress" in out
    assert "estimated time left" in out


def test_end_summary_lines_come_from_the_saved_paired_tables(tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"a": ["softras", "softras"], "b": ["n3mr", "n3mr"],
                  "category": ["chair", "overall"], "difference": [0.02, 0.03],
                  "ci_low": [0.01, 0.02], "ci_high": [0.04, 0.05], "n_objects": [8, 16],
                  "n_seeds": [3, 3], "verdict": ["ahead", "ahead"], "caution": ["", ""],
                  "method": [CROSSED, CROSSED], "df": [2.0, 2.0], "n_categories": [1, 1],
                  "seeds": ["0,1,2", "0,1,2"]}
                 ).to_csv(tmp_path / "data" / "recon_paired.csv", index=False)
    lines = headline_lines(tmp_path)
    assert len(lines) == 1  # the overall row only
    assert lines[0].startswith("headline, reconstruction: softras is ahead of n3mr")
    assert "0.03" in lines[0] and "`" not in lines[0]
    assert headline_lines(tmp_path / "missing") == []


def test_fit_says_where_it_wrote_its_outputs(tmp_path, capsys):
    from bench_softras.commands.fit import _print_outputs

    (tmp_path / "fitting.csv").write_text("x\n")
    _print_outputs(tmp_path)
    out = capsys.readouterr().out
    assert f"outputs in {tmp_path}/" in out and "fitting.csv" in out
    assert str(tmp_path / "meshes") in out


def test_a_shard_prices_its_share_of_a_sharded_stage(tmp_path):
    """Two shards each train half of the runs: each prices half of reconstruction, and
    all of a stage that is not shared out."""
    from bench_softras.main_job import MainJobConfig, _job_progress
    from bench_softras.shards import Shard

    recon = {"recon": {"iterations": 1500, "batch_size": 32}, "renderers": ["r"] * 6,
             "seeds": [0, 1]}
    todo = [stages.get("data"), stages.get("reconstruction")]
    made = {"reconstruction": recon}
    whole = _job_progress(MainJobConfig(results_root=str(tmp_path)), made, todo).planned
    half = _job_progress(MainJobConfig(results_root=str(tmp_path), shard=Shard(1, 2)),
                         made, todo).planned
    assert whole["reconstruction"] == pytest.approx(2 * 1446.0)
    assert half["reconstruction"] == pytest.approx(1446.0)
    assert half["data"] == whole["data"] > 0
