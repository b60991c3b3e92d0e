"""Reconstruction's per-renderer sweep (bench_softras.experiments.recon_tuning): chosen on
val objects only (a spy on the data loader), recorded and read back, reused by the runs."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from tiny_data import TINY_MODEL

from bench_softras.data import layout, loader
from bench_softras.errors import ConfigError
from bench_softras.experiments import recon_tuning
from bench_softras.experiments.evaluate import run_reconstruction
from bench_softras.experiments.resume import UNIT_LOCK_DIR
from bench_softras.results_schema import RECON_CHOICES
from bench_softras.settings import SMOKE, ReconConfig, ReconTuningConfig, with_overrides
from bench_softras.sweep import run_unit_first

NAMES = ["softras", "n3mr", "hard", "softras_torch"]


def _run_tuning(out, unit, names, base, tuning, template=None) -> pd.DataFrame:
    """The choices table of the tuning ``unit``, run first as the sweep runner runs it."""
    job = recon_tuning.tuning_job(out, unit, names, base, tuning, template=template)
    return run_unit_first(out, job, lock_subdir=UNIT_LOCK_DIR)[RECON_CHOICES]


def _base(data_dir) -> ReconConfig:
    return ReconConfig(data_dir=str(data_dir), preset="test", image_size=16, batch_size=2,
                       iterations=4, lr_decay_at=0, sigma=1e-3, eval_batch_size=24,
                       max_train_objects=1, model=TINY_MODEL)


@pytest.fixture
def spy(monkeypatch):
    """Every split and file the data loader reads, recorded."""
    seen = {"splits": [], "files": []}
    read_category, read_npz = loader.read_category, layout.read_npz_array

    def category(directory, class_id, split):
        seen["splits"].append(split)
        return read_category(directory, class_id, split)

    def npz(path):
        seen["files"].append(str(path))
        return read_npz(path)

    monkeypatch.setattr(loader, "read_category", category)
    monkeypatch.setattr(loader, "read_npz_array", npz)
    monkeypatch.setattr(layout, "read_npz_array", npz)
    return seen


def test_tuning_reads_only_train_and_val_and_records_its_choice(tiny_data_dir, tmp_path, spy,
                                                                 template):
    base = _base(tiny_data_dir)
    tuning = ReconTuningConfig(steps=1, lr_scales=(1.0, 3.0), sigmas=(1e-4, 1e-3),
                               val_objects=1, val_views=1)
    unit = recon_tuning.tuning_unit(base, tuning, NAMES, "digest")
    choices = _run_tuning(tmp_path, unit, NAMES, base, tuning, template=template)
    assert set(spy["splits"]) == {"train", "val"}
    assert spy["files"] and not [f for f in spy["files"] if "_test_" in f]
    by = choices.set_index("renderer")
    assert by.loc["softras", "chosen_by"] == by.loc["n3mr", "chosen_by"] == "sweep"
    assert by.loc["softras", "grid_points"] == 4 and by.loc["n3mr", "grid_points"] == 2
    assert by.loc["hard", "chosen_by"].startswith("preset values (no gradient")
    assert by.loc["softras_torch", "chosen_by"] == "softras's sweep (tuned_from)"
    assert by.loc["softras_torch", "lr"] == by.loc["softras", "lr"]
    assert math.isnan(by.loc["n3mr", "sigma"]) and by.loc["softras", "sigma"] in (1e-4, 1e-3)
    table = pd.read_parquet(tmp_path / unit.dir / "recon_tuning.parquet")
    assert sorted(table["renderer"].unique()) == ["n3mr", "softras"]  # hard: no gradient
    assert set(table["split"]) == {"val"} and table["val_voxel_iou"].between(0, 1).all()
    best = table[table["renderer"] == "softras"]["val_voxel_iou"].max()
    assert by.loc["softras", "tuning_val_voxel_iou"] == pytest.approx(best)
    # finished: read back with the same key, no data read again
    spy["splits"].clear()
    again = _run_tuning(tmp_path, unit, NAMES, base, tuning, template=template)
    pd.testing.assert_frame_equal(again, choices)
    assert spy["splits"] == []
    # the recorded sweep keeps no checkpoint of its 6 short runs (each trained one)
    points = [d for d in (tmp_path / unit.dir).glob("*/*") if d.is_dir()]
    assert len(points) == 6 and all((d / "checkpoints").is_dir() for d in points)
    assert not list((tmp_path / unit.dir).rglob("*.pt"))


def test_tuning_refuses_the_evaluated_split(tiny_data_dir, tmp_path):
    base = with_overrides(_base(tiny_data_dir), eval_split="val")
    tuning = ReconTuningConfig(steps=1)
    unit = recon_tuning.tuning_unit(base, tuning, ["softras"], "d")
    with pytest.raises(ConfigError, match="recon_tuning.split=train"):
        _run_tuning(tmp_path, unit, ["softras"], base, tuning)
    with pytest.raises(ConfigError, match="split"):
        ReconTuningConfig(split="test")


def test_no_steps_keeps_the_preset_values(tiny_data_dir, tmp_path, spy):
    base = _base(tiny_data_dir)
    tuning = ReconTuningConfig(steps=0)
    unit = recon_tuning.tuning_unit(base, tuning, ["softras", "n3mr"], "d")
    choices = _run_tuning(tmp_path, unit, ["softras", "n3mr"], base, tuning)
    assert spy["splits"] == []
    assert (choices["lr"] == base.lr).all() and choices.loc[0, "sigma"] == base.sigma
    assert choices["chosen_by"].str.contains("recon_tuning.steps is 0").all()


@pytest.mark.slow
def test_runs_train_at_their_renderer_choice(tiny_data_dir, tmp_path, template):
    out = tmp_path / "recon"
    config = with_overrides(SMOKE.recon, image_size=16, batch_size=2, iterations=2)
    tuning = ReconTuningConfig(steps=1, lr_scales=(1.0, 3.0), sigmas=(1e-4,), val_objects=1,
                               val_views=1)
    run_reconstruction(SMOKE, ["softras", "hard"], tiny_data_dir, out, seeds=[0],
                       config=config, tuning=tuning, template=template, progress=False)
    choices = pd.read_csv(out / "recon_choices.csv").set_index("renderer")
    assert (out / "recon_tuning.csv").is_file()
    for name in ("softras", "hard"):
        saved = json.loads((out / name / "seed_0" / "config.json").read_text())["config"]
        assert saved["lr"] == pytest.approx(choices.loc[name, "lr"])
    assert saved["sigma"] == config.sigma  # hard: not tuned
