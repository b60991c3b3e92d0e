"""Shards of one sweep must be given the same options (issue 20): each shard records
its options (its run record and each stage's plan); a shard whose options differ from
another's is refused in one line naming the difference (exit 2) before it runs
anything, and a merge of shards that still disagree names every unit it lacks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench_softras import cli
from bench_softras.data import write_split
from bench_softras.shards import (
    PLANS_DIR,
    Shard,
    ShardMismatchError,
    Unit,
    merge_units,
    write_plan,
    write_unit,
)

#: Fitting only: the cube with hard (and n3mr), 2 steps, no data-set targets or tuning.
JOB = ["report", "--preset", "smoke", "--stages", "fitting", "--fit-shapes", "cube",
       "--set", "fit.steps=2", "--set", "fit_bench.per_category=0",
       "--set", "fit_bench.tuning_targets=0", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    images = np.zeros((1, 24, 4, 16, 16), np.uint8)
    images[:, :, :, 4:12, 4:12] = 255
    voxels = np.zeros((1, 32, 32, 32), bool)
    voxels[:, 8:24, 8:24, 8:24] = True
    for split in ("train", "val", "test"):
        write_split(d, "box", split, images, voxels)
    return d


def _call(root, data_dir, *extra) -> int:
    return cli.main([*JOB, "--data-dir", str(data_dir), "--results-root", str(root), *extra])


def test_a_shard_with_other_options_is_refused_naming_them(tmp_path, data_dir, capsys):
    assert _call(tmp_path, data_dir, "--renderers", "hard,n3mr", "--shard", "1/2") == 0
    capsys.readouterr()
    for extra, named in ((["--renderers", "hard"], "renderers"),
                         (["--renderers", "hard,n3mr", "--set", "fit.lr=0.02"], "fit.lr")):
        code = _call(tmp_path, data_dir, *extra, "--shard", "2/2")
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert len(err) == 1 and named in err[0] and "shard 1/2" in err[0]
        assert "Traceback" not in err[0]
    units = tmp_path / "smoke" / "fitting" / "units"
    assert (units / "cube__n3mr" / "unit.json").is_file()  # shard 1/2's
    assert not (units / "cube__hard" / "unit.json").exists()  # refused before running it
    # the same options: shard 2/2 runs, and the merge lacks nothing
    assert _call(tmp_path, data_dir, "--renderers", "hard,n3mr", "--shard", "2/2") == 0
    capsys.readouterr()
    assert cli.main(["report", "--from-results", str(tmp_path / "smoke"), "--report-dir",
                     str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Missing results" not in md
    finals = pd.read_csv(tmp_path / "report" / "data" / "fitting_final.csv")
    assert len(finals) >= 1


def test_write_plan_refuses_another_shards_options(tmp_path):
    units = [Unit("a", "units/a", "k1"), Unit("b", "units/b", "k2")]
    write_plan(tmp_path, "fitting", Shard(1, 2), units, options={"renderers": ["a", "b"]})
    with pytest.raises(ShardMismatchError, match=r"renderers \['a'\] vs \['a', 'b'\]"):
        write_plan(tmp_path, "fitting", Shard(2, 2), units[:1], options={"renderers": ["a"]})
    write_plan(tmp_path, "fitting", Shard(2, 2), units, options={"renderers": ["a", "b"]})
    # an unsharded call (1/1) is a sweep of its own
    write_plan(tmp_path, "fitting", None, units[:1], options={"renderers": ["a"]})


def _plan(out, shard: str, units: list[Unit], options: dict, written: float) -> None:
    """A plan as a shard writes it (two shards started together, neither saw the
    other's)."""
    n = int(shard.split("/")[1])
    rec = {"stage": "fitting", "shard": shard, "written": written, "options": options,
           "units": [{"label": u.label, "dir": u.dir, "key": u.key, "shard": k % n + 1}
                     for k, u in enumerate(units)]}
    (out / PLANS_DIR).mkdir(parents=True, exist_ok=True)
    (out / PLANS_DIR / f"{shard.replace('/', '_of_')}.json").write_text(json.dumps(rec))


def test_merge_names_every_unit_any_shard_planned(tmp_path):
    both = [Unit("cube hard", "units/cube__hard", "h"), Unit("cube n3mr", "units/cube__n3mr",
                                                              "n")]
    for u in both[:1]:
        table = tmp_path / u.dir / "fitting.csv"
        table.parent.mkdir(parents=True)
        pd.DataFrame({"shape": ["cube"], "renderer": ["hard"]}).to_csv(table, index=False)
        write_unit(tmp_path, u, {"fitting": table})
    _plan(tmp_path, "1/2", both, {"renderers": ["hard", "n3mr"]}, written=1.0)
    _plan(tmp_path, "2/2", both[:1], {"renderers": ["hard"]}, written=2.0)  # newest
    table, missing = merge_units(tmp_path, "fitting")
    assert list(table["renderer"]) == ["hard"]
    assert len(missing) == 1 and missing[0].startswith("missing: fitting cube n3mr (")
    assert "other options" in missing[0] and "renderers" in missing[0]
