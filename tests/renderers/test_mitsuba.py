"""The ``mitsuba`` peer (Mitsuba 3, :mod:`renderers.peers.mitsuba_silhouette`): its
forward is the exact pixel coverage within Monte Carlo noise, its gradient the exact
coverage gradient within Monte Carlo noise; skipped where mitsuba is not installed (it
is an extra: ``pip install -e .[peers]``).  The checks shared by every registered
renderer (bad input, orientation, the translated square) are in
``test_dibr_antialias_edgegrad.py``.

Measured at 64 spp, 32 px (seed 0): gradient cosine against the finite differences of
the exact coverage >= 0.997 and norm ratio 0.99-1.03 on every scene of
:data:`metrics.gradient_accuracy.SCENES`; mean absolute forward error 0.0004-0.0035.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import numpy as np
import pytest
import torch
from random_meshes import random_faces

import renderers
from metrics.exact_coverage import clip_coverage
from metrics.gradient_accuracy import (
    compare_gradients,
    make_scene,
    reference_gradient,
    renderer_gradient,
    scene_losses,
)
from renderers import threads

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mitsuba") is None,
                                reason="mitsuba is not installed")
SPP = 64


def _faces(xy, depth=(1.5, 1.5, 1.5)) -> torch.Tensor:
    """``[1, F, 3, 3]`` from screen corners ``[F, 3, 2]`` at the given corner depths."""
    xy = torch.as_tensor(xy, dtype=torch.float64)
    z = torch.as_tensor(depth, dtype=torch.float64).expand(xy.shape[:-1])[..., None]
    return torch.cat([xy, z], dim=-1)[None]


SHAPES = {  # off-centre and asymmetric, so a mirrored or flipped image would fail
    "triangle": [[[-0.7, -0.5], [0.45, -0.2], [-0.1, 0.65]]],
    "square": [[[-0.2, -0.55], [0.5, -0.55], [0.5, 0.15]],
               [[-0.2, -0.55], [0.5, 0.15], [-0.2, 0.15]]],
}


def test_described_and_registered():
    assert "mitsuba" in renderers.available() and "mitsuba" not in renderers.absent_peers()
    info = renderers.describe("mitsuba")
    assert info.family == "estimator" and info.sharpness is None
    assert info.defaults() == {"spp": 64, "seed": 0}
    r = renderers.build("mitsuba", image_size=(8, 12), sharpness=1e-4, spp=16)
    assert r.spp == 16 and r.pairs_evaluated(torch.zeros(2, 5, 3, 3)) == 2 * 8 * 12 * 16
    with pytest.raises(ValueError, match="spp"):
        renderers.build("mitsuba", spp=0)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_forward_is_exact_coverage_within_monte_carlo_noise(shape):
    """Non-square image (20 x 28) and varying depth: empty pixels 0, covered pixels 1,
    partial pixels within 6 standard deviations (+ 2 samples) of their coverage."""
    h, w = 20, 28
    fv = _faces(SHAPES[shape], depth=(1.2, 1.6, 2.0))
    exact = clip_coverage(fv[0, ..., :2].numpy(), (h, w))
    est = renderers.build("mitsuba", image_size=(h, w), spp=SPP).rasterize(fv)[0].numpy()
    assert est.shape == (h, w) and est.dtype == np.float64
    np.testing.assert_array_equal(est[exact == 0], 0.0)
    np.testing.assert_array_equal(est[exact > 1 - 1e-9], 1.0)
    part = (exact > 0) & (exact < 1 - 1e-9)
    c = np.clip(exact, 0.0, 1.0)
    sd = np.sqrt(c * (1 - c) / SPP)
    assert (np.abs(est - exact)[part] <= 6 * sd[part] + 2 / SPP).all()
    assert abs((est - exact).sum()) <= 4 * np.sqrt((sd ** 2).sum())


def test_forward_error_falls_with_the_sample_count():
    fv = _faces(SHAPES["triangle"])
    exact = clip_coverage(fv[0, ..., :2].numpy(), 32)
    err = {spp: float(np.abs(renderers.build("mitsuba", image_size=32, spp=spp)
                             .rasterize(fv)[0].numpy() - exact).mean()) for spp in (16, 256)}
    assert err[256] < err[16] / 2, err  # expected 1/sqrt(16) = 1/4


@pytest.mark.parametrize("scene_name", ["triangle", "soup", "box", "two_boxes"])
def test_gradient_is_the_exact_coverage_gradient(scene_name):
    """Against the finite differences of the exact coverage: direction (cosine) and
    length.  ``box`` and ``two_boxes`` are closed meshes rendered through ``render``:
    their outline edges are shared by a front and a back face (sampled once, else the
    norm ratio is 2), ``two_boxes`` adds occlusion."""
    scene = make_scene(scene_name)
    losses = scene_losses(scene, 32)
    ref = reference_gradient(scene, losses, 32)
    r = renderers.build("mitsuba", image_size=32, spp=SPP)
    _, grads = renderer_gradient(r, scene, losses)
    for k, loss in enumerate(losses):
        m = compare_gradients(grads[k][scene.compare], ref[k][scene.compare])
        assert m["cosine"] > 0.98, (loss.name, m)
        assert 0.9 < m["norm_ratio"] < 1.1, (loss.name, m)


def test_depth_gets_no_gradient():
    """Coverage does not depend on screen depth: its depth gradient is exactly 0 (the
    camera depths given to Mitsuba are constants), the x, y gradient is not."""
    fv = _faces(SHAPES["square"], depth=(1.2, 1.6, 2.0)).requires_grad_(True)
    w = torch.rand(32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (renderers.build("mitsuba", image_size=32).rasterize(fv) * w).sum().backward()
    g = fv.grad[0]
    assert float(g[..., 2].abs().max()) == 0.0 < float(g[..., :2].abs().max())


def test_samples_depend_only_on_the_seed_and_the_image():
    """The same faces give the same image and gradient in every call, batch position and
    instance; other faces or another seed give other samples."""
    fv = _faces(SHAPES["triangle"])
    a = renderers.build("mitsuba", image_size=16, spp=4)
    first = a.rasterize(fv)
    assert torch.equal(a.rasterize(fv), first)
    batch = renderers.build("mitsuba", image_size=16, spp=4).rasterize(
        torch.cat([fv + 0.1, fv, fv]))
    assert torch.equal(batch[1], first[0]) and torch.equal(batch[2], first[0])
    other = renderers.build("mitsuba", image_size=16, spp=4, seed=7).rasterize(fv)
    assert not torch.equal(other, first)
    moved = a.rasterize(fv + torch.tensor([1e-9, 0.0, 0.0], dtype=fv.dtype))
    assert not torch.equal(moved, first)  # fresh samples (the coverage is the same)

    def grad(x):
        x = x.clone().requires_grad_(True)
        w = torch.linspace(-1, 1, 16 * 16, dtype=x.dtype).reshape(1, 16, 16)
        (renderers.build("mitsuba", image_size=16, spp=4).rasterize(x) * w).sum().backward()
        return x.grad

    assert torch.equal(grad(fv), grad(fv))


@pytest.fixture
def restore_threads(monkeypatch):
    """The thread count in force before the test, restored after it (torch, Taichi and,
    at the next Mitsuba call, Dr.Jit)."""
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    yield
    threads.configure(before)
    os.environ.pop(threads.THREADS_ENV, None)


def _weighted_gradient(r, fv: torch.Tensor) -> torch.Tensor:
    x = fv.clone().requires_grad_(True)
    s = r.rasterize(x)
    (s * torch.rand(s.shape, generator=torch.Generator().manual_seed(0))).sum().backward()
    return x.grad


def test_dr_jit_uses_the_projects_thread_count(restore_threads):
    """Dr.Jit's own pool follows ``--threads`` / ``renderers.threads.configure`` (it used
    to keep one thread per core whatever the count), at every render."""
    from renderers.peers.mitsuba_setup import import_mitsuba

    fv = _faces(SHAPES["triangle"])
    for n in (1, 2):
        threads.configure(n)
        renderers.build("mitsuba", image_size=8, spp=4).rasterize(fv)
        assert import_mitsuba()[1].thread_count() == n


def test_gradient_is_bit_reproducible_on_one_thread(restore_threads):
    """On one thread the gradient's scatter-adds run in one order: the same bits in every
    call (measured on 2 threads: the last float32 bits differ, 1.4e-7 of the largest
    entry, in most repeats of this scene)."""
    threads.configure(1)
    fv = random_faces(2, 40, dtype=torch.float32, seed=3, scale=0.8)
    r = renderers.build("mitsuba", image_size=32, spp=SPP)
    first = _weighted_gradient(r, fv)
    for _ in range(3):
        assert torch.equal(_weighted_gradient(r, fv), first)


def test_batch_images_are_rendered_separately():
    one = _faces(SHAPES["triangle"])
    two = torch.cat([one, _faces([[[0.1, 0.1], [0.9, 0.2], [0.5, 0.9]]])])
    s = renderers.build("mitsuba", image_size=16).rasterize(two)
    assert s.shape == (2, 16, 16)
    for b in range(2):
        exact = clip_coverage(two[b, ..., :2].numpy(), 16)
        np.testing.assert_array_equal(s[b].numpy()[exact == 0], 0.0)


@pytest.mark.parametrize("far", [5e7, 1e18, 1e150])
def test_any_accepted_depth_range_renders_the_coverage(far):
    """Depth ratios far below float32's comfort (1e-6 / 1e4) and vertices far off screen
    (1e150: beyond float32): still the exact coverage within Monte Carlo noise, a zero
    depth gradient, and no overflow on the way."""
    h = 20
    xy = [[[-0.7, -0.5], [0.45, -0.2], [-0.1, 0.65]], [[0.55, 0.9], [far, 0.9], [0.55, -far]]]
    fv = _faces(xy, depth=(1e-6, 1e4, 3.0)).requires_grad_(True)
    # In the image, the far triangle is the quadrant x > 0.55, y < 0.9 for any far >= 5e7
    # (the reference itself overflows beyond about 1e15).
    near_xy = [xy[0], [[0.55, 0.9], [5e7, 0.9], [0.55, -5e7]]]
    exact = clip_coverage(np.array(near_xy), h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = renderers.build("mitsuba", image_size=h, spp=SPP).rasterize(fv)
        est.sum().backward()
    e = est[0].detach().numpy()
    np.testing.assert_array_equal(e[exact == 0], 0.0)
    np.testing.assert_array_equal(e[exact > 1 - 1e-9], 1.0)
    assert np.abs(e - exact).mean() < 0.01
    assert torch.isfinite(fv.grad).all() and float(fv.grad[..., 2].abs().max()) == 0.0
    assert float(fv.grad[..., :2].abs().max()) > 0


def test_degenerate_and_repeated_faces():
    """Faces with no projected area cover nothing: an image of only those is 0 with a zero
    gradient; a repeated face (either orientation) renders and differentiates like one
    face (it used to raise Dr.Jit's "empty distribution", or double the gradient)."""
    tri = _faces(SHAPES["triangle"])
    flat = _faces([[[-0.5, -0.5], [0.0, 0.0], [0.5, 0.5]], [[0.1, 0.2], [0.1, 0.2], [0.3, 0.1]]])
    flat.requires_grad_(True)
    out = renderers.build("mitsuba", image_size=16).rasterize(flat)
    out.sum().backward()
    assert float(out.detach().abs().max()) == 0.0 == float(flat.grad.abs().max())
    w = torch.linspace(-1, 1, 32 * 32, dtype=torch.float64).reshape(32, 32)

    def image_and_vertex_grad(fv, order):
        fv = fv.clone().requires_grad_(True)
        s = renderers.build("mitsuba", image_size=32, spp=SPP).rasterize(fv)
        (s * w).sum().backward()
        g = fv.grad[0, 0].clone()
        if fv.shape[1] == 2:  # the copy's corner k is the triangle's corner order[k]
            g[order] += fv.grad[0, 1]
        return s.detach()[0], g

    img1, g1 = image_and_vertex_grad(tri, None)
    for order in ([0, 1, 2], [0, 2, 1]):
        img, g = image_and_vertex_grad(torch.cat([tri, tri[:, :, order]], 1), order)
        assert abs(float(img.mean() - img1.mean())) < 0.01
        assert float((g - g1).norm() / g1.norm()) < 0.25, (order, g, g1)


def test_a_broken_llvm_is_a_python_error_not_an_abort(monkeypatch):
    """The probe runs the adapter's own render in a child process, so a missing (or,
    with Debian's libllvm15, aborting) LLVM gives a RuntimeError naming the fix."""
    from renderers.peers.mitsuba_setup import LLVM_ENV, probe_llvm

    libs = ["/nonexistent/libLLVM.so"]
    if os.path.isfile("/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"):
        libs.append("/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1")  # measured: JIT aborts
    for lib in libs:
        monkeypatch.setenv(LLVM_ENV, lib)
        with pytest.raises(RuntimeError, match="libllvm19"):
            probe_llvm()
