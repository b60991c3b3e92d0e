"""The run record the report reads (the newest of ``run.json`` and the shards' merged
record) and the summary's convergence line."""

from __future__ import annotations

import json

import pandas as pd

from bench_softras.report.document import Document
from bench_softras.report.results import read_run_record, run_id_of
from bench_softras.report.summary import NAMED_RUNS, convergence_text


def _write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def _run(run_id, seeds, updated, walls):
    return {"run_id": run_id, "config": {"seeds": seeds}, "stages": {"reconstruction": "ran"},
            "stage_wall_s": walls, "updated": updated}


def test_shards_newer_than_run_json_win(tmp_path):
    """Seeds added by sharded calls to a run an unsharded call finished: the report
    reads the shards' record (their seeds, their summed seconds, their run id)."""
    d = tmp_path / "more-seeds"
    _write(d / "run.json", _run("cpu", [0], "2026-12-05T08:01:04", {"reconstruction": 1446.0}))
    for i, wall in ((1, 3000.0), (2, 2900.0)):
        _write(d / "shards" / f"run_{i}_of_2.json",
               _run("more-seeds", [0, 1, 2], "2026-12-05T13:04:02", {"reconstruction": wall}))
    run = read_run_record(d)
    assert run["config"]["seeds"] == [0, 1, 2]
    assert run["stage_wall_s"] == {"reconstruction": 5900.0}
    assert run_id_of(d, run) == "more-seeds"


def test_run_json_newer_than_shards_wins(tmp_path):
    d = tmp_path / "r"
    _write(d / "shards" / "run_1_of_1.json", _run("r", [0], "2026-12-05T08:00:00", {}))
    _write(d / "run.json", _run("r", [0, 1], "2026-12-05T09:00:00", {}))
    assert read_run_record(d)["config"]["seeds"] == [0, 1]


def test_a_record_without_time_loses_and_one_alone_is_read(tmp_path):
    d = tmp_path / "r"
    _write(d / "run.json", {"run_id": "r", "config": {"seeds": [7]}})
    assert read_run_record(d)["config"]["seeds"] == [7]
    _write(d / "shards" / "run_1_of_1.json", _run("r", [0], "2026-12-05T08:00:00", {}))
    assert read_run_record(d)["config"]["seeds"] == [0]


def _convergence(statuses):
    doc = Document("t")
    doc.data["recon_convergence"] = pd.DataFrame(
        {"renderer": [f"r{i}" for i in range(len(statuses))], "seed": 0, "status": statuses})
    return convergence_text(doc)


def test_few_runs_are_named_each():
    text = _convergence(["plateaued", "still improving"])
    assert "`r0` (seed 0) plateaued" in text and "`r1` (seed 0) still improving" in text


def test_many_runs_are_counted_and_only_the_open_ones_named():
    statuses = ["plateaued"] * NAMED_RUNS + ["still improving", "undetermined"]
    text = _convergence(statuses)
    assert f"{NAMED_RUNS + 2} runs: {NAMED_RUNS} plateaued, 1 still improving, 1 undetermined" \
        in text
    assert "`r0` (seed 0)" not in text
    assert f"`r{NAMED_RUNS}` (seed 0) still improving" in text
    assert f"`r{NAMED_RUNS + 1}` (seed 0) undetermined" in text
