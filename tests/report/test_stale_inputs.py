"""Stale inputs (issue 20): inputs are fingerprinted by content, so an input changed in
place reruns exactly the stages it feeds; a tampered data cache is found whenever the
data is used; ``--force`` redoes the selected stage's units; every fitting target gets
a unique key and label."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench_softras.experiments.fit_bench as fb
import bench_softras.main_job as main_job
from bench_softras.data import (
    CACHE_ENV,
    DatasetFileError,
    data_fingerprint,
    load_split,
    write_split,
)
from bench_softras.data.cache_check import MANIFEST, file_sha256, hash_files, verify_manifest
from bench_softras.errors import ConfigError
from bench_softras.experiments.fitting import target_labels
from bench_softras.main_job import MainJobConfig, run_main_job
from bench_softras.runs import config_hash, read_stage_record
from bench_softras.settings import SMOKE, FitBenchConfig, FitConfig
from metrics.meshes import box_mesh

#: Fitting without a data set's targets or tuning: only the named shapes, 2 steps.
FIT_ONLY = ("fit.steps=2", "fit_bench.per_category=0", "fit_bench.tuning_targets=0")
FIT = FitConfig(steps=1, views_per_step=1, record_every=1, image_size=16)
NO_BENCH = FitBenchConfig(per_category=0, tuning_targets=0, slow_renderers=(),
                          tuned_from=())


def _obj(path: Path, half: float, long: float = 1.0) -> Path:
    """A box mesh of half-size ``half`` (``long`` times that along x) as an OBJ file
    (targets are normalized, so only the proportions tell two boxes apart)."""
    size = np.array([half * long, half, half])
    v, f = box_mesh(-size, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f]
    path.write_text("\n".join(lines) + "\n")
    return path


def _tiny_data(d: Path, seed: int) -> Path:
    """Two classes, two objects each, as train/val/test of the benchmark layout."""
    rng = np.random.default_rng(seed)
    for cls in ("box", "ball"):
        for split in ("train", "val", "test"):
            images = np.zeros((2, 24, 4, 16, 16), np.uint8)
            voxels = np.zeros((2, 32, 32, 32), bool)
            for i in range(2):
                lo, hi = sorted(rng.integers(2, 14, size=2))
                images[i, :, :, lo:hi + 1, lo:hi + 1] = 255
                voxels[i, 8:8 + hi, 8:8 + hi, 8:8 + hi] = True
            write_split(d, cls, split, images, voxels)
    return d


def _job(tmp_path: Path, **kw) -> MainJobConfig:
    base = dict(preset="smoke", renderers=("n3mr",), results_root=str(tmp_path / "r"),
                reports_root=str(tmp_path / "p"), progress=False)
    base.update(kw)
    return MainJobConfig(**base)


def _stages(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "r" / "smoke" / "run.json").read_text())["stages"]


# -- fingerprints --------------------------------------------------------------------
def test_data_fingerprint_is_content_not_path_or_time(tmp_path):
    a = _tiny_data(tmp_path / "a", seed=0)
    b = _tiny_data(tmp_path / "b", seed=0)  # the same arrays, written again elsewhere
    assert data_fingerprint(a) == data_fingerprint(b)
    before = data_fingerprint(a)
    _tiny_data(a, seed=1)  # replaced in place
    assert data_fingerprint(a) != before


def test_a_tampered_cache_file_is_refused_when_read(tmp_path):
    d = _tiny_data(tmp_path / "cache", seed=0)
    files = sorted(p.name for p in d.glob("*.npz"))
    (d / MANIFEST).write_text(json.dumps({"sha256": hash_files(d, files)}))
    assert load_split(d, "test").images.shape[0] == 4 and verify_manifest(d) == []
    path = d / "box_test_images.npz"
    other = _tiny_data(tmp_path / "other", seed=5) / path.name
    path.write_bytes(other.read_bytes())  # edited in place after the build
    assert verify_manifest(d) == [path.name]
    with pytest.raises(DatasetFileError, match="box_test_images.npz.*SHA-256"):
        load_split(d, "test")


# -- the main job --------------------------------------------------------------------
def test_fit_shape_edited_in_place_is_refitted(tmp_path):
    mesh = _obj(tmp_path / "shapes" / "thing.obj", 0.2)
    data = _tiny_data(tmp_path / "data", seed=0)
    cfg = _job(tmp_path, data_dir=str(data), stages=("fitting",), fit_shapes=(str(mesh),),
               settings=FIT_ONLY)
    run_main_job(cfg)
    first = pd.read_csv(tmp_path / "r" / "smoke" / "fitting" / "fitting.csv")
    run_main_job(cfg)
    assert _stages(tmp_path)["fitting"] == "skipped"
    _obj(mesh, 0.2, long=2.0)  # the same file, another mesh
    run_main_job(cfg)
    assert _stages(tmp_path)["fitting"] == "ran"
    second = pd.read_csv(tmp_path / "r" / "smoke" / "fitting" / "fitting.csv")
    assert not np.allclose(first["voxel_iou"], second["voxel_iou"])  # the new target


def test_ablation_stage_config_follows_its_targets_content(tmp_path):
    mesh = _obj(tmp_path / "thing.obj", 0.2)
    cfg = _job(tmp_path, fit_shapes=(str(mesh),), stages=("ablations",))
    plan = main_job.make_plan(cfg)
    before = config_hash(main_job.stage_config(cfg, plan, "ablations"))
    _obj(mesh, 0.2, long=2.0)  # the ablations' target edited in place
    assert config_hash(main_job.stage_config(cfg, plan, "ablations")) != before


def test_force_redoes_the_fitting_units(tmp_path, monkeypatch):
    mesh = _obj(tmp_path / "thing.obj", 0.2)
    cfg = _job(tmp_path, data_dir=str(_tiny_data(tmp_path / "data", 0)), stages=("fitting",),
               fit_shapes=(str(mesh), "cube"), settings=FIT_ONLY)
    run_main_job(cfg)
    fits = []
    real = fb.fit_one
    monkeypatch.setattr(fb, "fit_one", lambda t, *a, **k: fits.append(t.name) or
                        real(t, *a, **k))
    run_main_job(cfg)
    assert fits == []  # finished: reused
    run_main_job(_job(tmp_path, data_dir=cfg.data_dir, stages=("fitting",),
                      fit_shapes=cfg.fit_shapes, settings=FIT_ONLY, force=True))
    assert sorted(fits) == ["cube", "thing"]


def test_data_dir_replaced_in_place_reruns_data_and_reconstruction(tmp_path, caplog):
    data = _tiny_data(tmp_path / "data", seed=0)
    cfg = _job(tmp_path, data_dir=str(data), stages=("data", "reconstruction"),
               renderers=("hard",), seeds=(0,),
               settings=("recon.iterations=2", "recon.val_every=0"))
    run_main_job(cfg)
    run_main_job(cfg)
    assert _stages(tmp_path) == {"data": "skipped", "reconstruction": "skipped"}
    old = read_stage_record(tmp_path / "r" / "smoke", "reconstruction")
    _tiny_data(data, seed=1)  # the files replaced in place
    with caplog.at_level(logging.WARNING):
        run_main_job(cfg)
    assert _stages(tmp_path) == {"data": "ran", "reconstruction": "ran"}
    new = read_stage_record(tmp_path / "r" / "smoke", "reconstruction")
    assert new["config"]["data_fingerprint"] != old["config"]["data_fingerprint"]
    run_dir = tmp_path / "r" / "smoke" / "reconstruction" / "hard" / "seed_0"
    assert (run_dir / "superseded").is_dir()  # trained again, the old run kept aside
    assert "trained on other data" in caplog.text


def test_tampered_cache_is_rebuilt_when_used_by_a_finished_run(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    cfg = _job(tmp_path, stages=("data",))
    run_main_job(cfg)
    data_dir = Path(json.loads((tmp_path / "r" / "smoke" / "data" / "data.json")
                               .read_text())["dir"])
    manifest = json.loads((data_dir / MANIFEST).read_text())
    name = sorted(manifest["sha256"])[0]
    path = data_dir / name
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # tampered in place
    run_main_job(cfg)
    assert _stages(tmp_path)["data"] == "ran"  # the finished data stage noticed it
    assert file_sha256(path) == manifest["sha256"][name]


# -- target keys and labels -------------------------------------------------------------
def test_targets_sharing_a_name_get_unique_labels(tmp_path):
    a = _obj(tmp_path / "a" / "mesh.obj", 0.2)
    b = _obj(tmp_path / "b" / "mesh.obj", 0.3)
    c = _obj(tmp_path / "c" / "cube.obj", 0.25, long=1.5)
    labels = target_labels([str(a), str(b), "cube", str(c), "chair"])
    assert len(set(labels.values())) == 5
    assert labels["chair"] == "chair"  # unique names stay as they are
    assert labels[str(a)].startswith("mesh-") and labels[str(c)].startswith("cube-")
    assert labels["cube"].startswith("cube-")
    with pytest.raises(ConfigError, match="same target"):
        target_labels([str(a), str(tmp_path / "a" / ".." / "a" / "mesh.obj")])
    with pytest.raises(ConfigError, match="same target"):
        target_labels(["chair", "03001627"])


def test_two_files_of_one_name_are_both_fitted(tmp_path):
    a = _obj(tmp_path / "a" / "mesh.obj", 0.2)
    b = _obj(tmp_path / "b" / "mesh.obj", 0.2, long=2.0)
    c = _obj(tmp_path / "c" / "cube.obj", 0.25)
    out = tmp_path / "fit"
    df = fb.run_fit_benchmark(["n3mr"], SMOKE, out, config=FIT, bench=NO_BENCH,
                              shapes=[str(a), str(b), "cube", str(c)], progress=False)
    finals = df.groupby("shape").tail(1)
    assert len(finals) == 4 and finals["shape"].is_unique
    targets = pd.read_csv(out / "fit_targets.csv")
    assert targets["shape"].is_unique and len(targets) == 4
    assert len(list((out / "meshes").glob("*.obj"))) == 4
