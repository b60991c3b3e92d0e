"""The renderers of issue 11 (``dibr``, ``antialias``, ``edgegrad``) and what every
registered renderer must do: reject bad input clearly, orient images alike, and move a
square's edge towards a target shifted right."""

from __future__ import annotations

import math

import pytest
import torch
from random_meshes import random_faces

import renderers
from renderers.antialias import wing_vertices
from renderers.dibr import DIBRRasterizer

NEW = ("dibr", "antialias", "edgegrad")
ALL = renderers.available()


def test_new_renderers_are_registered_and_described():
    assert set(NEW) <= set(ALL)
    assert renderers.describe("dibr").sharpness == "sigma"
    assert renderers.describe("antialias").sharpness is None
    assert renderers.describe("edgegrad").family == "estimator"
    assert renderers.describe("dibr").defaults() == {
        "sigma": 1 / 7000, "box_margin": 0.02, "max_faces": 30}  # Kaolin's defaults


@pytest.mark.parametrize("name", ALL)
def test_bad_input_raises_clearly(name):
    r = renderers.get(name, image_size=8)
    good = random_faces(1, 2, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"\[B, F, 3, 3\]"):
        r.rasterize(good[0])
    with pytest.raises(TypeError, match="float32 or float64"):
        r.rasterize(good.to(torch.float16))
    with pytest.raises(TypeError, match="torch.Tensor"):
        r.rasterize(good.numpy())
    bad = good.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        r.rasterize(bad)
    bad = good.clone()
    bad[0, 1, 2, 2] = -0.5
    with pytest.raises(ValueError, match="behind the camera"):
        r.rasterize(bad)
    with pytest.raises(ValueError, match="image size"):
        renderers.get(name, image_size=0)
    with pytest.raises(TypeError, match="accepted"):
        renderers.get(name, device="cuda")
    empty = r.rasterize(good[:, :0])
    assert empty.shape == (1, 8, 8) and float(empty.abs().sum()) == 0


@pytest.mark.parametrize("name", ALL)
def test_every_renderer_orients_images_the_same_way(name):
    """A triangle in the upper-left quadrant lights up the upper-left of the image."""
    r = renderers.build(name, image_size=16, sharpness=1e-4)
    fv = torch.tensor([[[[-0.9, 0.1, 1.0], [-0.1, 0.1, 1.0], [-0.5, 0.9, 1.0]]]],
                      dtype=torch.float64)
    s = r.rasterize(fv)[0]
    assert s.shape == (16, 16) and float(s.min()) >= 0 and float(s.max()) <= 1
    s = s > 0.5
    assert s[:8, :8].sum() > 0 and s[8:].sum() == 0 and s[:, 8:].sum() == 0


def _square(shift: float = 0.0, dtype=torch.float64) -> torch.Tensor:
    """Two faces of the square [-0.4, 0.4]^2 moved right by ``shift``, depth 1.5, as
    ``[1, 2, 3, 3]``; vertices 0..3 = bottom-left, bottom-right, top-right, top-left."""
    v = torch.tensor([[-0.4, -0.4], [0.4, -0.4], [0.4, 0.4], [-0.4, 0.4]], dtype=dtype)
    return _faces(v + torch.tensor([shift, 0.0], dtype=dtype))


def _faces(v: torch.Tensor) -> torch.Tensor:
    v3 = torch.cat([v, torch.full((4, 1), 1.5, dtype=v.dtype)], dim=1)
    return v3[torch.tensor([[0, 1, 2], [0, 2, 3]])][None]


@pytest.mark.parametrize("name", [n for n in ALL if n != "hard"])
def test_translated_square_moves_its_right_edge_right(name):
    """On a square whose target is translated right, the gradient of the squared error
    moves the shared (right) edge's vertices to the right, for every renderer but hard."""
    r = renderers.build(name, image_size=32, sharpness=1e-4)
    target = renderers.get("hard", image_size=32).rasterize(_square(0.1))
    v = torch.tensor([[-0.4, -0.4], [0.4, -0.4], [0.4, 0.4], [-0.4, 0.4]],
                     dtype=torch.float64, requires_grad=True)
    ((r.rasterize(_faces(v)) - target) ** 2).sum().backward()
    assert float(v.grad[1, 0]) < 0 and float(v.grad[2, 0]) < 0  # descent: +x


def _kaolin_dibr(fv: torch.Tensor, size: int, sigma: float, margin: float,
                 knum: int) -> torch.Tensor:
    """Kaolin's ``dibr_soft_mask_forward_cuda_kernel`` written out pixel by pixel."""
    hard = renderers.get("hard", image_size=size).rasterize(fv)[0]
    out = torch.zeros(size, size, dtype=torch.float64)
    for i in range(size):
        for j in range(size):
            if hard[i, j] > 0:
                out[i, j] = 1.0
                continue
            x0, y0 = (2 * j + 1 - size) / size, (size - 2 * i - 1) / size
            keep, used = 1.0, 0
            for f in range(fv.shape[1]):
                p = fv[0, f, :, :2].tolist()
                xs, ys = [q[0] for q in p], [q[1] for q in p]
                if not (min(xs) - margin <= x0 < max(xs) + margin
                        and min(ys) - margin <= y0 < max(ys) + margin):
                    continue
                dis = []
                for k in range(3):
                    (x1, y1), (x2, y2) = p[k], p[(k + 1) % 3]
                    a, b, c = y2 - y1, x1 - x2, x2 * y1 - x1 * y2
                    down = a * a + b * b
                    x3 = (b * b * x0 - a * b * y0 - a * c) / down
                    y3 = (a * a * y0 - a * b * x0 - b * c) / down
                    outside = (x3 - x1) * (x3 - x2) + (y3 - y1) * (y3 - y2) > 0
                    dis.append(4.0 if outside else (a * x0 + b * y0 + c) ** 2 / down)
                    dis.append((x0 - x1) ** 2 + (y0 - y1) ** 2)
                keep *= 1 - math.exp(-min(dis) / sigma)
                used += 1
                if used >= knum:
                    break
            out[i, j] = 1 - keep
    return out


def test_dibr_forward_matches_kaolins_kernel():
    fv = random_faces(1, 6, seed=5, scale=0.7)
    for knum in (30, 2):  # 2: the per-pixel face limit truncates
        r = renderers.get("dibr", image_size=12, sigma=3e-3, box_margin=0.1, max_faces=knum)
        ref = _kaolin_dibr(fv, 12, 3e-3, 0.1, knum)
        torch.testing.assert_close(r.rasterize(fv)[0], ref, rtol=0, atol=1e-12)


@pytest.mark.gradcheck
def test_dibr_gradcheck():
    r = renderers.get("dibr", image_size=10, sigma=5e-3, box_margin=0.2)
    fv = random_faces(1, 3, seed=2, scale=0.6).requires_grad_(True)
    assert torch.autograd.gradcheck(r.rasterize, (fv,), eps=1e-7, atol=1e-6)


def test_dibr_float32_matches_float64_and_gradients_are_finite():
    r = DIBRRasterizer(image_size=16, sigma=1e-3)
    fv = random_faces(2, 8, seed=1).requires_grad_(True)
    s64 = r.rasterize(fv)
    s32 = r.rasterize(fv.detach().float())
    assert s32.dtype == torch.float32
    torch.testing.assert_close(s32.double(), s64.detach(), atol=1e-5, rtol=0)
    s64.sum().backward()
    assert torch.isfinite(fv.grad).all() and float(fv.grad.abs().sum()) > 0


_DIBR_REPEAT = """
import hashlib, sys
sys.path.insert(0, {tests!r})
import renderers, torch
from random_meshes import random_faces
r = renderers.get("dibr", image_size=48, sigma=3e-4, box_margin=0.05)
fv0 = random_faces(4, 300, dtype=torch.float32, seed=3, scale=0.9)
w = torch.rand(4, 48, 48, generator=torch.Generator().manual_seed(1))
for _ in range(4):
    fv = fv0.clone().requires_grad_(True)
    s = r.rasterize(fv)
    (s * w).sum().backward()
    print(hashlib.sha1(s.detach().numpy().tobytes() + fv.grad.numpy().tobytes()).hexdigest())
"""


def test_dibr_is_bit_reproducible_on_two_threads():
    """Issue 23: identical calls give identical bits (float32, 2 Taichi threads, in a
    fresh process so the pool really has two).  Taichi's reverse mode added every pair's
    gradient into its face with atomic adds, so the sum followed the thread order; the
    backward now writes one row per pair and sums them per face in a fixed order."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).parent)
    env = {**os.environ, "SOFTRAS_BENCH_THREADS": "2", "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", _DIBR_REPEAT.format(tests=tests)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    digests = done.stdout.split()[-4:]
    assert len(set(digests)) == 1 and len(digests[0]) == 40, done.stdout


def test_dibr_face_sums_take_every_pair_once():
    """The per-face reduction of the backward (:func:`sum_pair_grads`) equals the sum of
    its pairs' rows, for pairs listed in any order (faces without pairs get 0)."""
    from renderers.dibr import kernels
    from renderers.taichi_runtime import ensure_init

    ensure_init("cpu")
    g = torch.Generator().manual_seed(0)
    nb, nf, npairs = 2, 5, 40
    face = torch.randint(0, nb * nf - 1, (npairs,), generator=g)  # the last face: none
    rows = torch.rand(npairs, 6, generator=g, dtype=torch.float64)
    order = torch.sort(face, stable=True).indices
    count = torch.bincount(face, minlength=nb * nf)
    out = torch.full((nb, nf, 3, 3), float("nan"), dtype=torch.float64)
    kernels.sum_pair_grads(rows, order, torch.cumsum(count, 0) - count, count, out)
    ref = torch.zeros(nb * nf, 6, dtype=torch.float64).index_add(0, face, rows)
    torch.testing.assert_close(out[..., :2].reshape(nb * nf, 6), ref, rtol=1e-15, atol=0)
    assert (out[..., 2] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_ids_are_torch_uniques_inverse(dtype):
    """The wing search's vertex numbering (column-by-column stable sorts) equals
    ``torch.unique(dim=0)``'s inverse, -0.0 and 0.0 being one value."""
    from renderers.antialias.function import row_ids

    g = torch.Generator().manual_seed(0)
    rows = torch.randint(-3, 3, (3000, 4), generator=g).to(dtype) * 0.5
    rows[::7, 2] = -0.0
    rows[::5, 2] = 0.0
    assert torch.equal(row_ids(rows), torch.unique(rows, dim=0, return_inverse=True)[1])
    assert row_ids(rows[:0]).shape == (0,)


def test_wings_find_the_face_across_each_edge():
    fv = _square()
    wings = wing_vertices(fv)[0]
    # face 0 = (0, 1, 2), face 1 = (0, 2, 3); edge k joins vertices k+1, k+2
    torch.testing.assert_close(wings[0, 1], fv[0, 1, 2, :2])  # edge (2, 0): across is v3
    torch.testing.assert_close(wings[1, 2], fv[0, 0, 1, :2])  # edge (0, 2): across is v1
    torch.testing.assert_close(wings[0, 0], fv[0, 0, 0, :2])  # boundary: own vertex


def test_antialias_blends_by_the_edge_crossing():
    """A vertical silhouette edge at column coordinate c between pixel centres j and
    j + 1 gives pixel j the value 0.5 + (c - j) when c - j < 0.5, else pixel j + 1 gets
    (c - j) - 0.5 (nvdiffrast's blend); rows far from corners only."""
    size = 16
    for frac in (0.2, 0.7):
        x_edge = (2 * (7 + frac) + 1 - size) / size  # column coordinate 7 + frac
        v = torch.tensor([[-0.5, -0.5], [x_edge, -0.5], [x_edge, 0.5], [-0.5, 0.5]],
                         dtype=torch.float64)
        s = renderers.get("antialias", image_size=size).rasterize(_faces(v))[0]
        row = s[8]
        if frac < 0.5:
            assert float(row[7]) == pytest.approx(0.5 + frac) and float(row[8]) == 0
        else:
            assert float(row[7]) == 1 and float(row[8]) == pytest.approx(frac - 0.5)


def test_antialias_gradient_matches_finite_differences():
    """The antialiased forward is piecewise smooth in the vertices: its analytic
    gradient equals central differences (up to nvdiffrast's 1e-3 pixel epsilon)."""
    r = renderers.get("antialias", image_size=24)
    fv = torch.tensor([[[[-0.53, -0.47, 1.0], [0.51, -0.52, 1.3], [0.04, 0.55, 1.1]]]],
                      dtype=torch.float64, requires_grad=True)
    w = torch.rand(1, 24, 24, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (r.rasterize(fv) * w).sum().backward()
    fd = torch.zeros_like(fv)
    with torch.no_grad():
        for k in range(3):
            for a in range(2):
                e = 1e-6
                p, m = fv.clone(), fv.clone()
                p[0, 0, k, a] += e
                m[0, 0, k, a] -= e
                fd[0, 0, k, a] = ((r.rasterize(p) - r.rasterize(m)) * w).sum() / (2 * e)
    torch.testing.assert_close(fv.grad, fd, rtol=5e-3, atol=1e-3)


def test_edgegrad_forward_is_the_hard_image_and_gradient_is_drtks_rule():
    """Forward = hard exactly.  Backward: with dL/dS = 1 on the empty column right of a
    vertical edge and 0 elsewhere, each of the edge's rows has
    grad_dot = (S_b - S_a) (g_a + g_b) / 2 = (0 - 1) (0 + 1) / 2 = -0.5, so the covered
    pixel gets dL/dx_pix = 0.5 (DRTK): a total x gradient of rows * 0.5 * W / 2 over
    the vertices (the barycentric weights sum to 1); y and depth get none."""
    size = 16
    fv = _square()
    eg = renderers.get("edgegrad", image_size=size)
    hard = renderers.get("hard", image_size=size).rasterize(fv)
    x = fv.clone().requires_grad_(True)
    s = eg.rasterize(x)
    assert torch.equal(s, hard)
    cols = hard[0].amax(0).nonzero().flatten()
    right = int(cols.max()) + 1
    w = torch.zeros_like(hard)
    w[0, :, right] = 1.0
    (s * w).sum().backward()
    rows = int(hard[0, :, right - 1].sum())
    assert float(x.grad[..., 0].sum()) == pytest.approx(rows * 0.5 * size / 2)
    assert float(x.grad[..., 1].abs().sum()) == 0 and float(x.grad[..., 2].abs().sum()) == 0


@pytest.mark.cuda
@pytest.mark.parametrize("name", NEW)
def test_cuda_matches_cpu(name):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    r = renderers.build(name, image_size=32, sharpness=1e-3)
    fv = random_faces(2, 10, dtype=torch.float32, seed=4)
    a = fv.clone().requires_grad_()
    b = fv.clone().cuda().requires_grad_()
    sa, sb = r.rasterize(a), r.rasterize(b)
    assert sb.device.type == "cuda"
    torch.testing.assert_close(sb.cpu(), sa, rtol=1e-4, atol=1e-5)
    sa.sum().backward()
    sb.sum().backward()
    torch.testing.assert_close(b.grad.cpu(), a.grad, rtol=1e-3, atol=1e-3)
