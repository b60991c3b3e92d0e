"""Sharding (``--shard i/n``, :mod:`bench_softras.shards`): two shards into one results
root, then one report, give the same tables as the unsharded run; a missing shard's
units are named; bad ``--shard`` text exits 2 with one line."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from bench_softras import cli
from bench_softras.data import CACHE_ENV
from bench_softras.shards import Shard, owner, parse_shard, runs_stage, select

#: A small sweep: fitting (the smoke data's two test objects and cube) x (hard, n3mr),
#: reconstruction template + hard, n3mr.
JOB = ["--preset", "smoke", "--stages", "data,fitting,reconstruction", "--renderers",
       "hard,n3mr", "--seeds", "0", "--fit-shapes", "cube", "--no-progress", "--threads", "1"]
#: Report tables that are bookkeeping of the calls (which call ran what, when).
BOOKKEEPING = {"stages"}


def _is_measurement(column: str) -> bool:
    """Wall-time / timing columns: measurements that differ between any two runs."""
    return "wall" in column or column.endswith("_s") or column == "val_percent"


def test_parse_and_select():
    assert parse_shard("2/4") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    for bad in ("0/2", "3/2", "1/0", "a/b", "2", "1/2/3", ""):
        with pytest.raises(ValueError, match="i/n"):
            parse_shard(bad)
    items = list(range(7))
    parts = [select(items, Shard(i, 3)) for i in (1, 2, 3)]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]]  # round-robin, 1-based
    assert sorted(sum(parts, [])) == items and select(items, None) == items
    assert [owner(k, 3) for k in range(4)] == [1, 2, 3, 1]
    assert runs_stage("timing", Shard(1, 2)) and not runs_stage("timing", Shard(2, 2))
    assert not runs_stage("examples", Shard(1, 2)) and runs_stage("examples", None)
    assert runs_stage("reconstruction", Shard(2, 2))


@pytest.mark.parametrize("command", ["report", "train", "fit", "evaluate"])
@pytest.mark.parametrize("text", ["3/2", "one/two", "0/1"])
def test_bad_shard_exits_2_with_one_line(command, text, capsys, tmp_path):
    code = cli.main([command, "--shard", text, "--out-dir", str(tmp_path)]
                    if command != "report" else [command, "--shard", text])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--shard" in err and "i/n" in err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Unsharded run, then shard 1/2, a report of that alone, shard 2/2, the merge."""
    root = tmp_path_factory.mktemp("shards")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(root / "cache"))
        assert cli.main(["report", *JOB, "--results-root", str(root / "whole"),
                         "--reports-root", str(root / "whole_reports")]) == 0
        out["whole"] = root / "whole_reports" / "smoke"
        sharded = root / "sharded" / "smoke"
        assert cli.main(["report", *JOB, "--results-root", str(root / "sharded"),
                         "--shard", "1/2"]) == 0
        assert cli.main(["report", "--from-results", str(sharded), "--report-dir",
                         str(root / "half")]) == 0
        out["half"] = root / "half"
        assert cli.main(["report", *JOB, "--results-root", str(root / "sharded"),
                         "--shard", "2/2"]) == 0
        assert cli.main(["report", "--from-results", str(sharded), "--report-dir",
                         str(root / "merged")]) == 0
        out["merged"] = root / "merged"
    return out


def test_two_shards_then_one_report_give_the_unsharded_tables(runs):
    whole = sorted(p.name for p in (runs["whole"] / "data").glob("*.csv"))
    assert {"recon_voxel_iou.csv", "fitting_final.csv", "recon_runs.csv"} <= set(whole)
    assert whole == sorted(p.name for p in (runs["merged"] / "data").glob("*.csv"))
    for name in whole:
        if name.removesuffix(".csv") in BOOKKEEPING:
            continue
        a = pd.read_csv(runs["whole"] / "data" / name)
        b = pd.read_csv(runs["merged"] / "data" / name)
        keep = [c for c in a.columns if not _is_measurement(c)]
        assert list(a.columns) == list(b.columns), name
        pd.testing.assert_frame_equal(a[keep], b[keep], obj=name)
    assert "Missing results" not in (runs["merged"] / "report.md").read_text()


def test_missing_shard_units_are_named(runs, capsys):
    md = (runs["half"] / "report.md").read_text()
    assert "## Missing results" in md
    # canonical order: fitting: the tuning sweep (1), then per target (the smoke data's
    # airplane and chair test objects, then cube) hard (2), n3mr (1); reconstruction:
    # the tuning sweep (1), template (2), hard seed 0 (1), n3mr seed 0 (2)
    for line in ("missing: fitting test/02691156/0 hard (shard 2/2 not run?)",
                 "missing: fitting test/03001627/0 hard (shard 2/2 not run?)",
                 "missing: fitting cube hard (shard 2/2 not run?)",
                 "missing: reconstruction template (shard 2/2 not run?)",
                 "missing: reconstruction n3mr seed 0 (shard 2/2 not run?)"):
        assert line in md
    assert not re.search(r"missing: .*\(shard 1/2", md)
    recon = pd.read_csv(runs["half"] / "data" / "recon_voxel_iou.csv")
    assert "ours: hard" in recon.columns and "ours: n3mr" not in recon.columns


def test_a_stage_run_in_shards_reports_their_seconds_summed(runs):
    # The shards write no stage.json for their part of a sharded stage: each shard's run
    # record keeps its seconds (stage_wall_s), and the report sums them.
    import json

    root = runs["merged"].parent / "sharded" / "smoke" / "shards"
    per_shard = [json.loads((root / f"run_{i}_of_2.json").read_text())["stage_wall_s"]
                 for i in (1, 2)]
    stages = pd.read_csv(runs["merged"] / "data" / "stages.csv").set_index("stage")
    for stage in ("fitting", "reconstruction"):
        assert all(s.get(stage, 0) > 0 for s in per_shard), stage
        assert stages.loc[stage, "wall_s"] == pytest.approx(
            sum(s[stage] for s in per_shard), abs=0.06), stage
    assert "not recorded for" not in (runs["merged"] / "report.md").read_text()
