"""A stage's sweep run by the harness (bench_softras.sweep.run_stage_sweep): the first units
run (and are recorded) before the main units are listed from their tables, in every
shard; the combined tables are written by the runner as the results schema declares
them; and the experiments that use it (fitting, reconstruction) write no table of
their stage themselves."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pandas as pd
import pytest
from tiny_data import TINY_MODEL

import bench_softras
from bench_softras import results_schema
from bench_softras.experiments.evaluate import run_reconstruction
from bench_softras.experiments.fit_bench import run_fit_benchmark
from bench_softras.settings import (
    SMOKE,
    FitBenchConfig,
    FitConfig,
    ReconConfig,
    ReconTuningConfig,
)
from bench_softras.shards import Shard, merge_units, read_unit
from bench_softras.sweep import StageSweep, SweepUnit, Unit, run_stage_sweep

STAGE = "toy_sweep"
PACKAGE = Path(bench_softras.__file__).parent


@pytest.fixture
def toy_schema():
    """A registered stage whose schema declares ``squares`` and ``total`` (CSV and
    Parquet) and ``total_summary`` (CSV only)."""
    results_schema.register(results_schema.StageSchema(
        STAGE, "units", tables=("squares", "total"), csv_only=("total_summary",)))
    try:
        yield
    finally:
        results_schema.unregister(STAGE)


def _sweep(out: Path, calls: list[str], *, scale: int = 2,
           combine_stems: tuple[str, ...] = ("total", "total_summary")) -> StageSweep:
    """A toy sweep: one first unit choosing ``scale`` (table ``choice``), then three main
    units ``n -> n * scale`` whose keys hash the choice; ``calls`` notes what runs, and
    the listing notes whether the first unit was already recorded."""
    first = SweepUnit(Unit("tuning", "units/tuning", f"t{scale}"), lambda: (
        calls.append("first") or {"choice": pd.DataFrame({"scale": [scale]})}))

    def main(tables: dict[str, pd.DataFrame]) -> list[SweepUnit]:
        chosen = int(tables["choice"]["scale"].item())
        calls.append(f"list({chosen}, recorded={read_unit(out, first.unit) is not None})")

        def make(n: int):
            return lambda: calls.append(f"u{n}") or {
                "squares": pd.DataFrame({"n": [n], "value": [n * chosen]})}
        return [SweepUnit(Unit(f"u{n}", f"units/u{n}", f"k{n}:{chosen}"), make(n))
                for n in range(3)]

    def combine(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        total = pd.DataFrame({"total": [int(tables["squares"]["value"].sum())]})
        return {stem: total for stem in combine_stems}

    return StageSweep(STAGE, main, first=[first], options={}, merge=("squares",),
                      combine=combine)


def test_the_first_phase_runs_and_is_recorded_before_the_main_units_in_every_shard(
        tmp_path, toy_schema):
    calls: list[str] = []
    done = run_stage_sweep(tmp_path, _sweep(tmp_path, calls), Shard(2, 2))
    # shard 2 owns none of position 0, yet runs the first unit: its units need it
    assert calls == ["first", "list(2, recorded=True)", "u0", "u2"]
    assert [int(t["squares"]["value"].item()) for t in done] == [0, 4]
    assert not (tmp_path / "total.csv").exists()  # a shard writes no combined table
    calls.clear()
    run_stage_sweep(tmp_path, _sweep(tmp_path, calls), Shard(1, 2))
    assert calls == ["list(2, recorded=True)", "u1"]  # the first unit read back
    calls.clear()
    run_stage_sweep(tmp_path, _sweep(tmp_path, calls, scale=3), None)
    # another choice: other main keys, every main unit runs again at the new choice
    assert calls == ["first", "list(3, recorded=True)", "u0", "u1", "u2"]
    assert merge_units(tmp_path, "squares")[0]["value"].tolist() == [0, 3, 6]


def test_the_runner_writes_the_declared_combined_tables(tmp_path, toy_schema):
    run_stage_sweep(tmp_path, _sweep(tmp_path, []), None)
    assert pd.read_csv(tmp_path / "total.csv")["total"].tolist() == [6]
    assert pd.read_parquet(tmp_path / "total.parquet")["total"].tolist() == [6]
    assert pd.read_csv(tmp_path / "total_summary.csv")["total"].tolist() == [6]
    assert not (tmp_path / "total_summary.parquet").exists()  # CSV only, as declared
    assert pd.read_csv(tmp_path / "squares.csv")["value"].tolist() == [0, 2, 4]
    unrecorded = tmp_path / "unrecorded"
    run_stage_sweep(unrecorded, _sweep(unrecorded, []), None, record=False)
    assert not unrecorded.exists()


def test_a_combined_table_the_schema_does_not_declare_is_refused(tmp_path, toy_schema):
    with pytest.raises(ValueError, match="does not declare: stray"):
        run_stage_sweep(tmp_path, _sweep(tmp_path, [], combine_stems=("total", "stray")), None)
    assert not (tmp_path / "total.csv").exists()  # nothing of it written
    stray_merge = dataclasses.replace(_sweep(tmp_path, calls := []), merge=("stray",))
    with pytest.raises(ValueError, match="does not declare: stray"):
        run_stage_sweep(tmp_path / "m", stray_merge, None)
    assert calls == []  # refused before any unit ran


def _declared_names(stage: str) -> set[str]:
    """The file names of every table the results schema declares for ``stage``."""
    s = results_schema.SCHEMA[stage]
    return ({f(t) for t in s.tables for f in (results_schema.csv_name,
                                               results_schema.parquet_name)}
            | {results_schema.csv_name(t) for t in s.csv_only})


def _final_name(path) -> str:
    """The file a write goes to: an atomic write's temporary ``.<name>.<random>.tmp``
    (:func:`bench_softras.atomic.atomic_path`) as ``<name>``."""
    name = Path(str(path)).name
    if name.startswith(".") and name.endswith(".tmp"):
        return name[1:].rsplit(".", 2)[0]
    return name


def _writer() -> str:
    """The suite module that asked for the write in progress: the innermost caller in
    ``bench_softras`` other than :mod:`bench_softras.atomic`, relative to the package."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if PACKAGE in path.parents and path.name != "atomic.py":
            return path.relative_to(PACKAGE).as_posix()
        frame = frame.f_back
    return "?"


@pytest.fixture
def table_writes(monkeypatch) -> list[tuple[str, str]]:
    """``(file name, writing module)`` of every DataFrame written as CSV or Parquet."""
    writes: list[tuple[str, str]] = []
    for method in ("to_csv", "to_parquet"):
        real = getattr(pd.DataFrame, method)

        def spy(self, path=None, *args, _real=real, **kwargs):
            writes.append((_final_name(path), _writer()))
            return _real(self, path, *args, **kwargs)
        monkeypatch.setattr(pd.DataFrame, method, spy)
    return writes


def _stage_tables_written(writes, stage: str) -> dict[str, set[str]]:
    """Declared table file of ``stage`` -> the modules that wrote it."""
    names = _declared_names(stage)
    out: dict[str, set[str]] = {}
    for name, module in writes:
        if name in names:
            out.setdefault(name, set()).add(module)
    return out


def test_fitting_writes_its_tables_only_through_the_runner(tmp_path, table_writes):
    fit = FitConfig(steps=2, views_per_step=2, record_every=1, image_size=16, sigma=1e-4)
    run_fit_benchmark(["softras", "hard"], SMOKE, tmp_path, config=fit,
                      bench=FitBenchConfig(tuning_targets=0), shapes=["cube"],
                      progress=False)
    written = _stage_tables_written(table_writes, "fitting")
    assert {"fitting.csv", "fit_choices.parquet"} <= set(written)
    assert {m for ms in written.values() for m in ms} == {"sweep.py"}


def test_reconstruction_writes_its_tables_only_through_the_runner(
        tiny_data_dir, tmp_path, template, table_writes):
    config = ReconConfig(data_dir=str(tiny_data_dir), preset="test", image_size=16,
                         batch_size=2, iterations=2, lr_decay_at=0, sigma=1e-3,
                         eval_batch_size=24, max_train_objects=1, model=TINY_MODEL)
    run_reconstruction(SMOKE, ["hard"], tiny_data_dir, tmp_path, seeds=[0], config=config,
                       tuning=ReconTuningConfig(steps=0), template=template, progress=False)
    written = _stage_tables_written(table_writes, "reconstruction")
    assert {"recon_iou.csv", "recon_iou_summary.csv", "recon_per_object.parquet",
            "recon_choices.csv"} <= set(written)
    assert {m for ms in written.values() for m in ms} == {"sweep.py"}
