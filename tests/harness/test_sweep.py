"""The harness's sweep runner (bench_softras.sweep): it plans, selects the shard's units,
reuses finished ones, records and merges, whatever the units compute."""

from __future__ import annotations

import pandas as pd

from bench_softras.shards import PLANS_DIR, Shard, Unit, read_unit
from bench_softras.sweep import SweepUnit, run_sweep, run_unit_first


def _units(calls: list[str], key: str = "k") -> list[SweepUnit]:
    """Four units, each returning a one-row table ``squares`` (int64 ``n``, ``square``)
    and noting its label in ``calls`` when it runs."""
    def make(n: int):
        def run():
            calls.append(f"u{n}")
            return {"squares": pd.DataFrame({"n": [n], "square": [n * n]})}
        return run
    return [SweepUnit(Unit(f"u{n}", f"units/u{n}", f"{key}{n}"), make(n)) for n in range(4)]


def test_shards_split_the_units_and_the_whole_call_merges(tmp_path):
    calls: list[str] = []
    one = run_sweep(tmp_path, "fitting", _units(calls), Shard(1, 2), options={"a": 1})
    assert calls == ["u0", "u2"] and [t["squares"]["n"].item() for t in one] == [0, 2]
    assert (tmp_path / PLANS_DIR / "1_of_2.json").is_file()
    assert not (tmp_path / "squares.csv").exists()  # a shard writes no combined table
    run_sweep(tmp_path, "fitting", _units(calls), Shard(2, 2), options={"a": 1})
    assert calls == ["u0", "u2", "u1", "u3"]
    calls.clear()
    whole = run_sweep(tmp_path, "fitting", _units(calls), None, options={"a": 1},
                      merge=("squares",))
    assert calls == [] and len(whole) == 4  # every unit finished: read back
    assert pd.read_csv(tmp_path / "squares.csv")["square"].tolist() == [0, 1, 4, 9]
    assert read_unit(tmp_path, _units([])[3].unit)["tables"] == {"squares": "squares.parquet"}


def test_force_reuse_and_a_new_key_rerun_units(tmp_path):
    calls: list[str] = []
    run_sweep(tmp_path, "fitting", _units(calls), None, options={})
    run_sweep(tmp_path, "fitting", _units(calls), None, options={}, force=True)
    run_sweep(tmp_path, "fitting", _units(calls), None, options={}, reuse=False)
    assert calls == ["u0", "u1", "u2", "u3"] * 3
    calls.clear()
    run_sweep(tmp_path, "fitting", _units(calls, key="other"), None, options={})
    assert calls == ["u0", "u1", "u2", "u3"]  # other settings: other keys


def test_unrecorded_and_planned_only_units_write_nothing(tmp_path):
    calls: list[str] = []
    units = [SweepUnit(Unit("tuning", "units/tuning", "t"))] + _units(calls)
    out = run_sweep(tmp_path, "fitting", units, None, options={}, record=False,
                    merge=("squares",))
    assert calls == ["u0", "u1", "u2", "u3"] and len(out) == 4
    assert not any(tmp_path.rglob("*.json")) and not any(tmp_path.rglob("*.parquet"))
    none = [SweepUnit(Unit("x", "units/x", "x"), lambda: None)]
    assert run_sweep(tmp_path, "fitting", none, None, options={}) == []


def test_a_unit_run_first_is_recorded_read_back_and_forced_by_its_owner_only(tmp_path):
    # the tuning unit every other unit's settings need: run ahead by the runner, whatever
    # the shard; recorded once, then read back; force reruns it in its owner shard only
    calls: list[str] = []
    recorded: list[str] = []
    first = _units(calls)[0]

    def again(shard=None, force=False):
        return run_unit_first(tmp_path, first, shard, force=force,
                              on_recorded=lambda: recorded.append("dropped"))

    assert again(Shard(2, 2))["squares"]["square"].tolist() == [0]
    assert calls == ["u0"] and recorded == ["dropped"]
    assert read_unit(tmp_path, first.unit)["tables"] == {"squares": "squares.parquet"}
    assert again()["squares"]["n"].tolist() == [0] and calls == ["u0"]  # read back
    again(Shard(2, 2), force=True)  # position 0 belongs to shard 1: not forced here
    assert calls == ["u0"] and recorded == ["dropped"]
    again(Shard(1, 2), force=True)
    assert calls == ["u0", "u0"] and recorded == ["dropped"] * 2
    # then planned with the others, not run again
    rest = [SweepUnit(first.unit)] + _units(calls)[1:]
    run_sweep(tmp_path, "fitting", rest, None, options={}, merge=("squares",))
    assert calls == ["u0", "u0", "u1", "u2", "u3"]
    assert pd.read_csv(tmp_path / "squares.csv")["square"].tolist() == [0, 1, 4, 9]


def test_a_unit_run_first_unrecorded_writes_nothing(tmp_path):
    calls: list[str] = []
    tables = run_unit_first(tmp_path, _units(calls)[1], record=False)
    assert calls == ["u1"] and tables["squares"]["n"].tolist() == [1]
    assert not any(tmp_path.rglob("*"))
