"""Mesh fitting of the template sphere to a target's 24 silhouettes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bench_softras.experiments.fitting import FIT_COLUMNS, fit_mesh, load_target, run_fitting
from bench_softras.experiments.presets import FitConfig
from metrics.open3d_import import open3d

TINY_FIT = FitConfig(steps=40, views_per_step=4, record_every=20, image_size=32,
                     sigma=1e-4)


@pytest.mark.parametrize("parametrization, lr", [("sigmoid", 0.03), ("direct", 0.01)])
def test_fitting_a_cube_improves_both_ious(template, parametrization, lr):
    target = load_target("cube")
    cfg = dataclasses.replace(TINY_FIT, parametrization=parametrization, lr=lr)
    df = fit_mesh(target.vertices, target.faces, "n3mr", config=cfg, shape="cube",
                  template=template)
    assert list(df.columns) == FIT_COLUMNS
    assert df["step"].tolist() == [0, 20, 40]
    assert (df["renderer"] == "n3mr").all() and (df["shape"] == "cube").all()
    assert df["wall_s"].is_monotonic_increasing
    first, last = df.iloc[0], df.iloc[-1]
    assert last["silhouette_iou"] > first["silhouette_iou"] + 0.05
    assert last["voxel_iou"] > first["voxel_iou"]
    assert df[["voxel_iou", "silhouette_iou"]].stack().between(0, 1).all()


def test_hard_renderer_without_regularizers_does_not_move(template):
    target = load_target("cube")
    cfg = FitConfig(steps=3, views_per_step=2, record_every=1, image_size=16,
                    use_laplacian=False, use_flatten=False)
    df, verts = fit_mesh(target.vertices, target.faces, "hard", config=cfg, template=template,
                         return_vertices=True)
    assert df["voxel_iou"].nunique() == 1 and df["silhouette_iou"].nunique() == 1
    radius = verts.norm(dim=1)
    assert np.allclose(radius.numpy(), cfg.template_radius, atol=1e-6)


def test_targets_from_files_categories_and_builtins(tmp_path):
    o3d = open3d()
    mesh = o3d.geometry.TriangleMesh.create_box(2.0, 1.0, 1.0)  # off-centre, too large
    path = tmp_path / "slab.ply"
    o3d.io.write_triangle_mesh(str(path), mesh)
    t = load_target(str(path))
    assert t.name == "slab" and t.faces.shape == (12, 3)
    lo, hi = t.vertices.min(0), t.vertices.max(0)
    assert np.allclose(lo + hi, 0) and np.linalg.norm(hi - lo) == pytest.approx(1.0)
    chair = load_target("chair", seed=1)
    assert chair.name == "chair" and chair.parts.shape == (chair.faces.shape[0],)
    assert np.abs(chair.vertices).max() <= 0.5
    assert load_target("cube").faces.shape == (12, 3)
    with pytest.raises(FileNotFoundError):
        load_target(str(tmp_path / "missing.obj"))
    with pytest.raises(ValueError, match="unknown shape"):
        load_target("not-a-shape")


def test_bad_fit_arguments(template):
    with pytest.raises(ValueError, match="parametrization"):
        FitConfig(parametrization="spline")
    with pytest.raises(ValueError, match="template_radius"):
        FitConfig(template_radius=0.5)
    t = load_target("cube")
    with pytest.raises(ValueError, match="views_per_step"):
        fit_mesh(t.vertices, t.faces, "hard", config=FitConfig(views_per_step=0))
    with pytest.raises(ValueError, match="steps"):
        fit_mesh(t.vertices, t.faces, "hard", -1, config=TINY_FIT)
    with pytest.raises(KeyError, match="nope"):
        fit_mesh(t.vertices, t.faces, "nope", config=TINY_FIT)


def test_run_fitting_writes_table_and_meshes(tmp_path):
    cfg = FitConfig(steps=2, views_per_step=2, record_every=1, image_size=16, sigma=1e-4)
    df = run_fitting(["cube"], ["softras", "hard"], "smoke", tmp_path, config=cfg,
                     progress=False)
    assert set(df["renderer"]) == {"softras", "hard"} and (df["preset"] == "smoke").all()
    back = pd.read_csv(tmp_path / "fitting.csv")
    assert len(back) == len(df) == 2 * 3
    assert (tmp_path / "fitting.parquet").is_file()
    fitted = open3d().io.read_triangle_mesh(str(tmp_path / "meshes" / "cube_softras.obj"))
    assert len(fitted.vertices) == 642 and len(fitted.triangles) == 1280
