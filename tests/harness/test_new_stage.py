"""Adding a stage costs one stage module, its results-schema lines, one settings class
and one report section: a toy stage declared in this module alone is run by the main
job, recorded (and reused), sharded as its schema says and shown in the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench_softras import results_schema, stages
from bench_softras.atomic import write_table
from bench_softras.main_job import (
    MainJobConfig,
    MainJobError,
    full_config_of,
    make_plan,
    run_main_job,
    sweep_options,
)
from bench_softras.report import sections
from bench_softras.report.document import Document
from bench_softras.report.results import read_table
from bench_softras.report.sections.base import ReportInputs, missing
from bench_softras.runs import read_stage_record
from bench_softras.shards import Shard, runs_stage
from bench_softras.stages.base import Stage, StageContext, outputs

TOY_TABLE = "toy_squares"
HEADING = "Toy stage: squares"


@dataclass(frozen=True)
class ToyConfig:
    """The toy stage's settings: how many squares it writes."""

    count: int = 4


class ToyStage(Stage):
    """Writes the squares ``0 .. count-1`` (int64) as its one table."""

    name = "toy"
    section = "toy"
    settings_type = ToyConfig

    def configure(self, ctx: StageContext) -> dict:
        return {"count": ctx.plan.section(self.section).count}

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        n = ctx.plan.section(self.section).count
        table = pd.DataFrame({"n": range(n), "square": [i * i for i in range(n)]})
        for name in (results_schema.csv_name(TOY_TABLE), results_schema.parquet_name(TOY_TABLE)):
            write_table(table, out_dir / name)
        return outputs(self.name, out_dir)


def render_toy(doc: Document, inp: ReportInputs) -> None:
    """The toy stage's report section: its table, read through the schema's name."""
    doc.heading(HEADING)
    table = inp.tables.get(TOY_TABLE)
    if table is None:
        missing(doc, "toy")
        return
    doc.table(table, TOY_TABLE, "Squares", ".0f")


@pytest.fixture
def toy_stage():
    stages.register(ToyStage(), results_schema.StageSchema("toy", "single", tables=(TOY_TABLE,)))
    sections.register("toy", render_toy)
    try:
        yield
    finally:
        sections.unregister("toy")
        stages.unregister("toy")


def _job(tmp_path: Path, **kw) -> MainJobConfig:
    return MainJobConfig(preset="smoke", stages=("toy",), results_root=str(tmp_path / "r"),
                         reports_root=str(tmp_path / "p"), progress=False, **kw)


def test_toy_stage_runs_is_recorded_and_reported(toy_stage, tmp_path):
    paths = run_main_job(_job(tmp_path))
    results = tmp_path / "r" / "smoke"
    rec = read_stage_record(results, "toy")
    assert rec["status"] == "done" and rec["config"] == {"count": 4}
    assert rec["outputs"] == [f"toy/{TOY_TABLE}.csv", f"toy/{TOY_TABLE}.parquet"]
    assert read_table(results, TOY_TABLE)["square"].tolist() == [0, 1, 4, 9]
    assert json.loads((results / "run.json").read_text())["stages"] == {"toy": "ran"}
    text = Path(paths["markdown"]).read_text()
    assert HEADING in text and (tmp_path / "p" / "smoke" / "data" / f"{TOY_TABLE}.csv").is_file()
    # the stages table lists it, and a job with no --stages runs it by default
    stages_table = pd.read_csv(tmp_path / "p" / "smoke" / "data" / "stages.csv")
    assert "toy" in set(stages_table["stage"])
    assert MainJobConfig().stages[-1] == "toy"
    run_main_job(_job(tmp_path))  # the same configuration: reused
    assert json.loads((results / "run.json").read_text())["stages"] == {"toy": "skipped"}


def test_toy_stage_settings_change_its_hash(toy_stage, tmp_path):
    plan = make_plan(_job(tmp_path))
    assert plan.section("toy") == ToyConfig()
    ctx = StageContext(plan, tmp_path)
    assert stages.get("toy").configure(ctx) == {"count": 4}
    plan.sections["toy"] = ToyConfig(count=2)
    assert stages.get("toy").configure(StageContext(plan, tmp_path)) == {"count": 2}


def test_toy_stage_shards_as_its_schema_says(toy_stage, tmp_path):
    assert stages.get("toy").shard_kind == "single"
    assert runs_stage("toy", Shard(1, 2)) and not runs_stage("toy", Shard(2, 2))
    run_main_job(_job(tmp_path, shard=Shard(2, 2)))
    assert read_stage_record(tmp_path / "r" / "smoke", "toy") is None  # not in shard 2
    run_main_job(_job(tmp_path, shard=Shard(1, 2)))
    assert read_table(tmp_path / "r" / "smoke", TOY_TABLE) is not None


def test_unregistered_stage_is_refused(tmp_path):
    with pytest.raises(MainJobError, match="unknown stage"):
        make_plan(_job(tmp_path))
    assert "toy" not in results_schema.stage_names() and "toy" not in sections.SECTIONS


def test_registry_and_schema_agree():
    assert tuple(s.name for s in stages.ordered()) == results_schema.stage_names()
    with pytest.raises(ValueError, match="already"):
        results_schema.register(results_schema.StageSchema("timing", "single"))
    with pytest.raises(ValueError, match="built in"):
        stages.unregister("timing")


def test_set_reaches_a_registered_stages_settings(toy_stage, tmp_path):
    # --set toy.count=3 goes to the toy stage's own settings class, not to the preset
    plan = make_plan(_job(tmp_path, settings=("toy.count=3", "fit.steps=7")))
    assert plan.section("toy") == ToyConfig(count=3) and plan.fit.steps == 7
    for bad, needle in (("toy.nope=1", "has no field 'nope'"),
                        ("toy.count=many", "toy.count"), ("toy=3", "give a field")):
        with pytest.raises(MainJobError, match=needle):
            make_plan(_job(tmp_path, settings=(bad,)))
    run_main_job(_job(tmp_path, settings=("toy.count=3",)))
    assert read_table(tmp_path / "r" / "smoke", TOY_TABLE)["square"].tolist() == [0, 1, 4]
    run = json.loads((tmp_path / "r" / "smoke" / "run.json").read_text())
    assert run["config"]["toy"] == {"count": 3} == run["config"]["sweep"]["toy"]


def test_a_section_no_stage_registers_is_still_refused(tmp_path):
    with pytest.raises(MainJobError, match="unknown section 'toy'"):
        make_plan(MainJobConfig(preset="smoke", stages=("data",), settings=("toy.count=3",),
                                results_root=str(tmp_path / "r"),
                                reports_root=str(tmp_path / "p"), progress=False))


def test_run_config_and_sweep_options_take_each_stages_own_settings(toy_stage, tmp_path,
                                                                   monkeypatch):
    # run.json's config and the shards' sweep options ask every registered stage for its
    # settings, in the registry's order: a stage's own hook decides what is recorded,
    # a registered one's and a built-in one's alike (no section is named by hand)
    cfg = _job(tmp_path)
    plan = make_plan(cfg)
    monkeypatch.setattr(stages.get("toy"), "portable_settings",
                        lambda plan, data_dir: {"toy": "portable", "toy_data": data_dir})
    monkeypatch.setattr(stages.get("timing"), "recorded_settings",
                        lambda plan: {"timing": "recorded by the stage"})
    full = full_config_of(cfg, plan)
    assert full["toy"] == {"count": 4} and full["timing"] == "recorded by the stage"
    recorded = [k for s in stages.ordered() for k in s.recorded_settings(plan)]
    assert list(full)[-len(recorded) - 2:] == [*recorded, "threads", "sweep"]
    assert recorded[-1] == "toy" and "toy_data" not in full
    options = sweep_options(cfg, plan)
    assert options["toy"] == "portable" and options["toy_data"] == ""
    assert full["sweep"] == options
    assert options["timing"] == "recorded by the stage"  # portable: by default the same
    portable = [k for s in stages.ordered() for k in s.portable_settings(plan, "")]
    assert list(options)[-len(portable):] == portable
    assert portable[0] == "data" and portable[-2:] == ["toy", "toy_data"]
