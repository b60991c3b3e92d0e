"""The fitting benchmark (issue 10, part 3): targets from the data set in use, k per
category, labelled; per-renderer tuning on the val split only; the fitting stage redone
when the data folder changes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tiny_data import make_tiny_data

import bench_softras.experiments.fit_bench as fb
from bench_softras.data import read_category, write_split
from bench_softras.experiments import fitting
from bench_softras.experiments.fitting import data_targets, load_target
from bench_softras.main_job import MainJobConfig, run_main_job
from bench_softras.settings import SMOKE, FitBenchConfig, FitConfig

FIT = FitConfig(steps=2, views_per_step=2, record_every=1, image_size=32, sigma=1e-4)
BENCH = FitBenchConfig(per_category=2, tuning_targets=2, lr_scales=(1.0, 3.0),
                       sigmas=(1e-4, 3e-4), slow_renderers=(), tuned_from=())


def _write(d, seeds: dict[str, int]):
    """A data set in ``d`` whose splits hold different objects (``seeds``: split -> seed
    of :func:`make_tiny_data`); classes ``box`` and ``ball``, 2 objects each."""
    for split, seed in seeds.items():
        data = make_tiny_data(per_class=2, seed=seed)
        for cls in data.classes:
            idx = data.indices_of(cls)
            write_split(d, cls, split, data.images[idx], data.voxels[idx])
    return d


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("fitdata"), {"train": 0, "val": 1, "test": 2})


def test_data_targets_are_the_stored_silhouettes_and_voxels(data_dir):
    images, voxels = read_category(data_dir, "ball", "test")
    t = load_target("test/ball/1", data_dir=data_dir)
    assert t.name == "ball_1" and t.category == "ball" and t.vertices is None
    np.testing.assert_array_equal(t.silhouettes, images[1, :, 3] / np.float32(255))
    np.testing.assert_array_equal(t.voxels, voxels[1])
    with pytest.raises(ValueError, match="data directory"):
        load_target("test/ball/1")
    with pytest.raises(ValueError, match="holds 2 objects"):
        data_targets(data_dir, "test", "ball", [5])
    with pytest.raises(ValueError, match="num_views must be <= 24"):
        fitting.fit_mesh(t, "hard", config=FitConfig(num_views=30, steps=0, image_size=32))


def test_fitting_a_stored_target_improves_its_iou(data_dir):
    t = load_target("test/box/0", data_dir=data_dir)
    cfg = FitConfig(steps=30, views_per_step=4, record_every=30, image_size=32, lr=0.03)
    df = fitting.fit_mesh(t, "softras", config=cfg).curve
    assert (df["category"] == "box").all()
    assert df["silhouette_iou"].iloc[-1] > df["silhouette_iou"].iloc[0] + 0.05


def test_targets_k_per_category_and_tuning_on_val_only(data_dir, tmp_path, monkeypatch):
    """The benchmark fits the first k test objects of each category; the sweep fits
    only val objects, never one whose silhouettes are a test object's."""
    seen = []
    real = fb.fit_mesh

    def spy(target, renderer, **kw):
        seen.append(target.silhouettes)
        return real(target, renderer, **kw)

    monkeypatch.setattr(fb, "fit_mesh", spy)  # the sweep's fits only
    curves = fb.run_fit_benchmark(["softras", "n3mr", "hard"], SMOKE, tmp_path, config=FIT,
                                  bench=BENCH, data_dir=data_dir, progress=False)
    assert set(zip(curves["shape"], curves["category"], strict=True)) == {
        ("box_0", "box"), ("box_1", "box"), ("ball_0", "ball"), ("ball_1", "ball")}
    tuning = pd.read_csv(tmp_path / "fit_tuning.csv")
    assert set(tuning["target"]) == {"val/box/0", "val/ball/0"}  # one per category
    # softras: 2 lr x 2 sigma; n3mr: 2 lr (no sharpness); hard: no gradient, no sweep.
    assert tuning.groupby("renderer").size().to_dict() == {"softras": 8, "n3mr": 4}
    assert len(seen) == 12
    test_sils = [t.silhouettes for c in ("box", "ball")
                 for t in data_targets(data_dir, "test", c, [0, 1])]
    assert not any(np.array_equal(s, t) for s in seen for t in test_sils)
    choices = pd.read_csv(tmp_path / "fit_choices.csv").set_index("renderer")
    assert choices.loc["hard", "chosen_by"].startswith("preset values")
    assert choices.loc["softras", "chosen_by"] == "sweep"
    # Every renderer fitted the benchmark with its chosen learning rate.
    best = tuning[tuning["renderer"] == "softras"].groupby(["lr", "sigma"])[
        "silhouette_iou"].mean().idxmax()
    assert (choices.loc["softras", "lr"], choices.loc["softras", "sigma"]) == \
        pytest.approx(best)
    roles = pd.read_csv(tmp_path / "fit_targets.csv")
    assert set(roles.loc[roles["role"] == "benchmark", "spec"]).isdisjoint(
        roles.loc[roles["role"] == "tuning", "spec"])


def test_choose_takes_the_best_mean_and_breaks_ties_toward_the_preset():
    fit = FitConfig(lr=0.01, sigma=1e-4)
    rows = [(3.0, 3e-4, "a", 0.6), (3.0, 3e-4, "b", 0.2), (1.0, 1e-4, "a", 0.5),
            (1.0, 1e-4, "b", 0.4), (0.3, 1e-4, "a", 0.1), (0.3, 1e-4, "b", 0.1)]
    t = pd.DataFrame(rows, columns=["lr_scale", "sigma", "target", "silhouette_iou"])
    t["lr"] = 0.01 * t["lr_scale"]
    best = fb.choose(t, fit)  # means: 0.4, 0.45, 0.1
    assert best["lr_scale"] == 1.0 and best["silhouette_iou"] == pytest.approx(0.45)
    t.loc[t["lr_scale"] == 3.0, "silhouette_iou"] = [0.5, 0.4]  # a tie with the preset's
    assert fb.choose(t, fit)["lr_scale"] == 1.0
    with pytest.raises(ValueError, match="tuning_split"):
        FitBenchConfig(split="val", tuning_split="val")


def test_switching_data_dir_redoes_the_fitting_stage(data_dir, tmp_path):
    other = _write(tmp_path / "other", {"train": 3, "val": 4, "test": 5})

    def run(d):
        cfg = MainJobConfig(preset="smoke", data_dir=str(d), renderers=("n3mr",),
                            stages=("fitting",), results_root=str(tmp_path / "r"),
                            reports_root=str(tmp_path / "p"), progress=False,
                            settings=("fit.steps=2",))
        run_main_job(cfg)
        run = json.loads((tmp_path / "r" / "smoke" / "run.json").read_text())
        table = pd.read_csv(tmp_path / "r" / "smoke" / "fitting" / "fitting.csv")
        return run["stages"]["fitting"], table

    status, first = run(data_dir)
    assert status == "ran" and set(first["category"]) == {"box", "ball"}
    assert run(data_dir)[0] == "skipped"
    status, second = run(other)
    assert status == "ran"  # another data folder: other targets, the stage is redone
    assert not np.allclose(first.sort_values(["shape", "step"])["voxel_iou"],
                           second.sort_values(["shape", "step"])["voxel_iou"])
