"""Mesh fitting of the template sphere to a target's 24 silhouettes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from bench_softras.experiments.fitting import (
    ABLATION_COLUMNS,
    FIT_COLUMNS,
    ablation_variants,
    fit_mesh,
    load_target,
    run_ablations,
    run_fitting,
)
from bench_softras.experiments.multiview import training_views
from bench_softras.settings import SMOKE, AblationConfig, FitConfig
from metrics.open3d_import import open3d
from renderers import Camera

TINY_FIT = FitConfig(steps=40, views_per_step=4, record_every=20, image_size=32,
                     sigma=1e-4)


@pytest.mark.parametrize("parametrization, lr", [("sigmoid", 0.03), ("direct", 0.01)])
def test_fitting_a_cube_improves_both_ious(template, parametrization, lr):
    target = load_target("cube")
    cfg = dataclasses.replace(TINY_FIT, parametrization=parametrization, lr=lr)
    df = fit_mesh(target, "n3mr", config=cfg, template=template).curve
    assert list(df.columns) == FIT_COLUMNS
    assert df["step"].tolist() == [0, 20, 40]
    assert (df["renderer"] == "n3mr").all() and (df["shape"] == "cube").all()
    assert df["wall_s"].is_monotonic_increasing
    first, last = df.iloc[0], df.iloc[-1]
    assert last["silhouette_iou"] > first["silhouette_iou"] + 0.05
    assert last["voxel_iou"] > first["voxel_iou"]
    assert df[["voxel_iou", "silhouette_iou"]].stack().between(0, 1).all()


def test_colour_fit_learns_the_target_colour(template):
    """Sec. 4's colour reconstruction: vertex colours fitted by the l2 image loss; the
    colour error falls and the red target turns the seen vertices red."""
    target = load_target("cube")
    cfg = dataclasses.replace(TINY_FIT, steps=30, record_every=30, lr=0.05,
                              color_weight=1.0)
    fit = fit_mesh(dataclasses.replace(target, color=(0.9, 0.1, 0.1)), "softras",
                   config=cfg, template=template)
    df, colors = fit.curve, fit.colors
    first, last = df.iloc[0], df.iloc[-1]
    assert last["color_mse"] < 0.5 * first["color_mse"]
    assert colors.shape == (template[0].shape[0], 3)
    red_minus_green = colors[:, 0] - colors[:, 1]  # 0 for vertices never seen (grey)
    assert red_minus_green.mean() > 0.2 and red_minus_green.min() > -0.05
    assert (colors[:, 1] - colors[:, 2]).abs().mean() < 0.05  # the target's G = B
    with pytest.raises(ValueError, match="color_weight"):
        FitConfig(color_weight=-1.0)


def test_colour_loss_does_not_move_the_geometry(template):
    """The colour pass gives no gradient to positions: with the same seed and views
    the first steps of a colour fit deform the sphere as the silhouette-only fit does
    (compared to float tolerance over a few steps: the renderers' parallel sums are not
    bitwise reproducible, and long fits amplify the last bits)."""
    target = load_target("cube")
    cfg = dataclasses.replace(TINY_FIT, steps=3, record_every=3, lr=0.05)
    red = dataclasses.replace(target, color=(0.9, 0.1, 0.1))
    runs = [(f.curve, f.vertices) for f in (
        fit_mesh(red, "softras", config=c, template=template)
        for c in (cfg, dataclasses.replace(cfg, color_weight=1.0)))]
    (plain, v_plain), (coloured, v_col) = runs
    assert plain["color_mse"].isna().all() and coloured["color_mse"].notna().all()
    moved = (v_plain - template[0] * (cfg.template_radius / template[0].norm(dim=1).max()))
    assert moved.abs().max() > 1e-3  # the fit did deform the sphere
    np.testing.assert_allclose(v_col.numpy(), v_plain.numpy(), rtol=0, atol=1e-5)


def test_hard_renderer_without_regularizers_does_not_move(template):
    target = load_target("cube")
    cfg = FitConfig(steps=3, views_per_step=2, record_every=1, image_size=16,
                    use_laplacian=False, use_flatten=False)
    fit = fit_mesh(target, "hard", config=cfg, template=template)
    df, verts = fit.curve, fit.vertices
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
        fit_mesh(t, "hard", config=FitConfig(views_per_step=0))
    with pytest.raises(ValueError, match="steps"):
        fit_mesh(t, "hard", config=dataclasses.replace(TINY_FIT, steps=-1))
    with pytest.raises(KeyError, match="nope"):
        fit_mesh(t, "nope", config=TINY_FIT)


def test_run_fitting_writes_table_and_meshes(tmp_path):
    cfg = FitConfig(steps=2, views_per_step=2, record_every=1, image_size=16, sigma=1e-4)
    df = run_fitting(["cube"], ["softras", "hard"], SMOKE, tmp_path, config=cfg,
                     progress=False)
    assert set(df["renderer"]) == {"softras", "hard"} and (df["preset"] == "smoke").all()
    back = pd.read_csv(tmp_path / "fitting.csv")
    assert len(back) == len(df) == 2 * 3
    assert (tmp_path / "fitting.parquet").is_file()
    fitted = open3d().io.read_triangle_mesh(str(tmp_path / "meshes" / "cube_softras.obj"))
    assert len(fitted.vertices) == 642 and len(fitted.triangles) == 1280
    assert not (tmp_path / "meshes" / "cube_softras.ply").exists()
    coloured = dataclasses.replace(cfg, color_weight=1.0)
    run_fitting(["cube"], ["softras"], SMOKE, tmp_path / "col", config=coloured,
                progress=False)
    mesh = open3d().io.read_triangle_mesh(str(tmp_path / "col" / "meshes" / "cube_softras.ply"))
    assert mesh.has_vertex_colors() and len(mesh.vertex_colors) == 642
    assert 0.3 < np.asarray(mesh.vertex_colors).mean() < 0.7  # near the mid-grey start


def _record_fit_views(monkeypatch) -> list[np.ndarray]:
    """Patch the fit's ``view_camera`` to record the view ids of every call: the first is
    the targets of the whole view pool, then one per step (the training renders)."""
    from bench_softras.experiments import fitting

    calls: list[np.ndarray] = []
    original = fitting.view_camera

    def recording(views):
        calls.append(np.asarray(views).copy())
        return original(views)

    monkeypatch.setattr(fitting, "view_camera", recording)
    return calls


@pytest.mark.parametrize("num_views, per_step", [(4, 2), (3, 8), (24, 4)])
def test_num_views_restricts_the_training_views(template, monkeypatch, num_views, per_step):
    calls = _record_fit_views(monkeypatch)
    t = load_target("cube")
    cfg = FitConfig(steps=12, views_per_step=per_step, num_views=num_views, record_every=12,
                    image_size=16, sigma=1e-3)
    df = fit_mesh(t, "softras_torch", config=cfg, template=template).curve
    seen = calls[1:]
    allowed = set(training_views(num_views).tolist())
    assert len(seen) == 13  # one training render per step (0..12)
    used = set(np.concatenate(seen).tolist())
    assert used <= allowed
    assert all(v.size == min(per_step, num_views) for v in seen)
    if num_views < 24:
        assert len(allowed) == num_views and used == allowed  # 13 draws reach every one
    else:
        assert len(used) > 8  # the random subsets cover more than a few views
    assert df["step"].tolist() == [0, 12]


def test_default_num_views_keeps_the_sampled_views(template, monkeypatch):
    """``num_views=24`` draws exactly the views the sampler drew before the field existed:
    ``np.sort(rng.choice(24, views_per_step, replace=False))`` from ``default_rng(seed)``."""
    calls = _record_fit_views(monkeypatch)
    t = load_target("cube")
    cfg = FitConfig(steps=5, views_per_step=3, record_every=5, image_size=16, seed=7)
    fit_mesh(t, "softras_torch", config=cfg, template=template)
    seen = calls[1:]
    rng = np.random.default_rng(7)
    expected = [np.sort(rng.choice(24, 3, replace=False)) for _ in range(6)]
    assert [v.tolist() for v in seen] == [e.tolist() for e in expected]


def test_more_than_24_views_add_views_from_below(template, monkeypatch):
    from bench_softras.experiments.multiview import fitting_views, view_camera

    assert fitting_views(24).tolist() == list(range(24))
    assert fitting_views(30).tolist() == list(range(24)) + [24, 28, 32, 36, 40, 44]
    assert fitting_views(48).tolist() == list(range(48))
    cam = view_camera([3, 27])
    eye = cam.eye()
    assert torch.allclose(eye[0, [0, 2]], eye[1, [0, 2]])  # same azimuth and distance
    assert eye[0, 1] > 0 > eye[1, 1] and torch.isclose(eye[0, 1], -eye[1, 1])
    assert view_camera([5]).eye().allclose(Camera.benchmark([5]).eye())
    with pytest.raises(ValueError, match="0..47"):
        view_camera([48])
    calls = _record_fit_views(monkeypatch)
    t = load_target("cube")
    cfg = FitConfig(steps=6, views_per_step=8, num_views=48, record_every=6, image_size=16,
                    sigma=1e-3)
    df = fit_mesh(t, "softras", config=cfg, template=template).curve
    assert calls[0].tolist() == list(range(48))
    seen = calls[1:]
    used = np.concatenate(seen)
    assert len(seen) == 7 and used.max() >= 24 and used.min() < 24
    assert df["silhouette_iou"].between(0, 1).all()


def test_num_views_is_validated():
    with pytest.raises(ValueError, match="num_views"):
        FitConfig(num_views=0)
    with pytest.raises(ValueError, match="num_views"):
        FitConfig(num_views=49)


def test_ablation_variants_and_table(tmp_path, template, monkeypatch):
    base = FitConfig(steps=2, views_per_step=2, record_every=1, image_size=16, sigma=1e-4)
    variants = ablation_variants(base, (1e-4, 1e-3), 4)
    assert [v for v, _ in variants] == ["baseline", "sigma", "no laplacian", "no flatten",
                                        "4 views"]
    assert [c.sigma for _, c in variants] == [1e-4, 1e-3, 1e-4, 1e-4, 1e-4]
    assert [(c.use_laplacian, c.use_flatten, c.num_views) for _, c in variants[2:]] == \
        [(False, True, 24), (True, False, 24), (True, True, 4)]
    with pytest.raises(ValueError, match="few_views"):
        ablation_variants(base, (1e-4,), 0)
    with pytest.raises(ValueError, match="sigmas"):
        ablation_variants(base, (), 4)
    assert [v for v, _ in ablation_variants(base, (1e-4,), 4, color_weight=2.0,
                                            more_views=48)][-2:] == ["48 views", "color"]
    with pytest.raises(ValueError, match="more_views"):
        ablation_variants(base, (1e-4,), 4, more_views=20)
    ablations = AblationConfig(sigmas=(1e-4, 1e-3), few_views=4, color_weight=0.0,
                               more_views=0, renderer="softras_torch", shape="cube")
    df = run_ablations(ablations, base, tmp_path, progress=False)
    assert list(df.columns) == ABLATION_COLUMNS and len(df) == 5
    assert df["color_mse"].isna().all() and not (tmp_path / "color_views.npz").exists()
    assert (df["steps"] == 2).all() and (df["renderer"] == "softras_torch").all()
    assert df[["voxel_iou", "silhouette_iou"]].stack().between(0, 1).all()
    back = pd.read_parquet(tmp_path / "ablations.parquet")
    pd.testing.assert_frame_equal(back, df)
    assert len(pd.read_csv(tmp_path / "ablations.csv")) == 5
