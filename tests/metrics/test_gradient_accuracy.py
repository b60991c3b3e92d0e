"""metrics.gradient_accuracy: the finite-difference reference gradient and the comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import renderers
from metrics.gradient_accuracy import (
    SCENES,
    Scene,
    compare_gradients,
    iou_loss,
    make_scene,
    reference_gradient,
    renderer_gradient,
    scene_losses,
    smooth_weights,
    weighted_loss,
)

N = 32
PIX = 2 / N


def test_reference_gradient_of_area_is_analytic():
    """With w = 1, L = sum(S) = area / pixel area; dA/dx_i = (y_{i+1} - y_{i+2}) / 2 and
    dA/dy_i = (x_{i+2} - x_{i+1}) / 2 for a counter-clockwise triangle."""
    scene = make_scene("triangle", seed=4)
    v = scene.vertices
    if np.cross(v[1] - v[0], v[2] - v[0]) < 0:
        v = v[::-1].copy()
        scene = Scene("ccw", "screen", v, scene.faces, "clip")
    ref = reference_gradient(scene, [weighted_loss(np.ones((N, N)))], N)[0]
    nxt, nxt2 = np.roll(v, -1, axis=0), np.roll(v, -2, axis=0)
    analytic = 0.5 * np.stack([nxt[:, 1] - nxt2[:, 1], nxt2[:, 0] - nxt[:, 0]], axis=1) / PIX**2
    np.testing.assert_allclose(ref, analytic, rtol=1e-6)


def test_reference_gradient_independent_of_method_and_step():
    scene = make_scene("soup_disjoint", seed=2)
    losses = scene_losses(scene, N, seed=2)
    clip = reference_gradient(scene, losses, N)
    scan_scene = make_scene("soup_disjoint", seed=2)
    scan_scene.method = "scanline"
    scan = reference_gradient(scan_scene, losses, N)
    for k in range(len(losses)):
        assert compare_gradients(scan[k], clip[k])["rel_l2"] < 0.01
    coarse = reference_gradient(scene, losses, N, step=1e-5)
    np.testing.assert_allclose(coarse, clip, rtol=1e-3, atol=1e-6 * np.abs(clip).max())


def test_world_scene_reference_front_matches_union():
    """The box's front faces tile its silhouette, so the analytic ``front`` reference and
    the scanline union reference (pulled back to world coordinates) agree."""
    scene = make_scene("box")
    losses = scene_losses(scene, N)
    front = reference_gradient(scene, losses, N)
    scene.method = "scanline"
    union = reference_gradient(scene, losses, N)
    assert front.shape == (2, 8, 3)
    for k in range(2):
        assert compare_gradients(union[k], front[k])["rel_l2"] < 0.01


def test_compare_gradients_definitions():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(10, 2))
    same = compare_gradients(ref, ref)
    assert same["cosine"] == pytest.approx(1.0) and same["rel_l2"] == 0.0
    assert same["sign_agree"] == 1.0 and same["norm_ratio"] == pytest.approx(1.0)
    opp = compare_gradients(-2 * ref, ref)
    assert opp["cosine"] == pytest.approx(-1.0) and opp["sign_agree"] == 0.0
    assert opp["rel_l2"] == pytest.approx(3.0)
    zero = compare_gradients(np.zeros_like(ref), ref)
    assert zero == {"cosine": 0.0, "rel_l2": 1.0, "sign_agree": 0.0, "norm_ratio": 0.0,
                    "n_signif": 20}
    # Negligible reference components (< 1% of the largest) are left out of sign_agree.
    r = np.array([1.0, -1.0, 1e-3])
    assert compare_gradients(np.array([1.0, -1.0, -5.0]), r)["sign_agree"] == 1.0
    assert compare_gradients(np.array([1.0, -1.0, -5.0]), r)["n_signif"] == 2
    assert np.isnan(compare_gradients(ref, np.zeros_like(ref))["cosine"])
    with pytest.raises(ValueError, match="shapes differ"):
        compare_gradients(ref, ref[:5])


def test_losses_work_on_numpy_and_torch():
    w = smooth_weights(N, seed=1)
    assert w.shape == (N, N) and abs(w.mean()) < 1e-12 and w.std() == pytest.approx(1.0)
    assert not np.allclose(w, smooth_weights(N, seed=2))
    s = np.random.default_rng(0).uniform(size=(N, N))
    target = s > 0.7
    for loss in (weighted_loss(w), iou_loss(target)):
        assert loss(torch.from_numpy(s)).item() == pytest.approx(loss(s))
    assert iou_loss(target)(target.astype(float)) == pytest.approx(0.0)


def test_scenes_are_valid_and_renderable():
    r = renderers.get("softras_torch", image_size=N, sigma=1e-4)
    for name in SCENES:
        scene = make_scene(name)
        cov = scene.coverage(N)
        assert 0 < cov.sum() and cov.max() <= 1 + 1e-9, name
        # Everything is in view: the coverage accounts for all visible screen area.
        assert np.abs(scene.screen_xy()).max() < 1, name
        sil, grads = renderer_gradient(r, scene, scene_losses(scene, N))
        assert sil.shape == (N, N) and grads.shape == (2,) + scene.vertices.shape
    sub = make_scene("sphere", n_compare=50)
    assert len(sub.compare) == 50 and len(np.unique(sub.compare)) == 50
    with pytest.raises(ValueError, match="unknown scene"):
        make_scene("teapot")
    with pytest.raises(ValueError, match="space"):
        Scene("x", "clip", np.zeros((3, 2)), np.array([[0, 1, 2]]), "clip")
