"""Bad data is refused before any expensive stage: test voxels of another resolution
before training, a corrupt file before the main job's fitting stage."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import bench_softras.experiments.evaluate as ev
from bench_softras.data import DatasetFileError, voxels_path
from bench_softras.main_job import MainJobConfig, run_main_job
from bench_softras.settings import SMOKE, with_overrides


def _boom(*a, **k):
    raise AssertionError("an expensive stage ran before the data were checked")


@pytest.fixture
def data_copy(tiny_data_dir, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(tiny_data_dir, d)
    return d


def test_test_voxels_of_another_resolution_fail_before_training(data_copy, tmp_path,
                                                                monkeypatch):
    for cid in ("ball", "box"):
        np.savez_compressed(voxels_path(data_copy, cid, "test"), np.ones((2, 16, 16, 16), bool))
    monkeypatch.setattr(ev, "train", _boom)
    config = with_overrides(SMOKE.recon, image_size=16, batch_size=2, iterations=1)
    with pytest.raises(DatasetFileError, match=r"ball_test_voxels.npz: voxels are 16x16x16 "
                                               r"but the evaluation .* 32x32x32"):
        ev.run_reconstruction(SMOKE, ["hard"], data_copy, tmp_path / "out", seeds=[0],
                              config=config, progress=False)


@pytest.mark.parametrize("damage", ["text", "empty voxels"])
def test_corrupt_data_file_is_found_before_fitting(data_copy, tmp_path, monkeypatch, damage):
    victim = voxels_path(data_copy, "box", "val")
    if damage == "text":
        victim.write_text("not an archive\n")
    else:
        np.savez_compressed(victim, np.zeros((2, 32, 32, 32), bool))
    monkeypatch.setattr("bench_softras.experiments.fitting.run_fitting", _boom)
    monkeypatch.setattr("bench_softras.experiments.fit_bench.run_fit_benchmark", _boom)
    cfg = MainJobConfig(preset="smoke", data_dir=str(data_copy), progress=False,
                        results_root=str(tmp_path / "results"),
                        reports_root=str(tmp_path / "reports"))
    with pytest.raises(DatasetFileError, match="box_val_voxels.npz") as err:
        run_main_job(cfg)
    assert "allow_pickle" not in str(err.value)
