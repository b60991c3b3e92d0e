"""SoftRas (Taichi, Taichi autodiff) against finite differences, the dense PyTorch
reference and the hard rasterizer."""

from __future__ import annotations

import pytest
import torch
from random_meshes import random_faces

import renderers
from renderers.grid import pixel_grid
from renderers.soft_math import cull_dist2


def _both(sigma, image_size=(24, 20), eps=1e-3):
    return (renderers.get("softras", image_size=image_size, sigma=sigma, eps=eps),
            renderers.get("softras_torch", image_size=image_size, sigma=sigma, eps=eps))


@pytest.mark.gradcheck
@pytest.mark.parametrize("sigma", [1e-4, 1e-3, 1e-2])
@pytest.mark.parametrize("seed", [0, 1])
def test_taichi_autodiff_matches_finite_differences(sigma, seed):
    """Taichi reverse mode == central differences of the same forward, float64."""
    r = renderers.get("softras", image_size=(12, 10), sigma=sigma)
    fv = random_faces(2, 4, seed=seed).requires_grad_()
    assert torch.autograd.gradcheck(r.rasterize, (fv,), eps=1e-7, atol=1e-5, rtol=1e-4)


@pytest.mark.gradcheck
@pytest.mark.parametrize("sigma", [3e-5, 1e-3, 3e-2])
def test_matches_dense_reference_float64(sigma):
    """Forward and backward equal softras_torch to 1e-8 relative (overlapping and
    back-facing triangles included)."""
    ta, to = _both(sigma)
    fv = random_faces(3, 12, seed=7)
    a = fv.clone().requires_grad_()
    b = fv.clone().requires_grad_()
    sa, sb = ta.rasterize(a), to.rasterize(b)
    torch.testing.assert_close(sa, sb, rtol=1e-8, atol=1e-12)
    w = torch.rand(sa.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (sa * w).sum().backward()
    (sb * w).sum().backward()
    assert b.grad.abs().max() > 0
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-8, atol=1e-8 * b.grad.abs().max())


#: float32 tolerance: the Taichi kernel computes in float64 and rounds once, the dense
#: reference computes in float32 throughout; both are within a few float32 ulps of the
#: float64 result for S, and within 1e-3 of the gradient scale for the gradients.
F32_RTOL, F32_ATOL_S, F32_ATOL_GRAD = 1e-4, 1e-5, 1e-3


def test_matches_dense_reference_float32():
    ta, to = _both(1e-3)
    fv = random_faces(2, 10, dtype=torch.float32, seed=3)
    a = fv.clone().requires_grad_()
    b = fv.clone().requires_grad_()
    sa, sb = ta.rasterize(a), to.rasterize(b)
    assert sa.dtype == torch.float32
    torch.testing.assert_close(sa, sb, rtol=F32_RTOL, atol=F32_ATOL_S)
    sa.sum().backward()
    sb.sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=F32_RTOL,
                               atol=F32_ATOL_GRAD * float(b.grad.abs().max()))


def test_single_triangle_values_follow_eq1():
    """Inside the triangle S > 0.5, outside < 0.5, and S = sigmoid(+-d^2/sigma) at a
    pixel whose distance to the triangle is known."""
    sigma = 1e-2
    r = renderers.get("softras", image_size=8, sigma=sigma, eps=1e-6)
    # a big axis-aligned right triangle covering the lower-left half: x + y <= 0
    fv = torch.tensor([[[[-4.0, -4.0, 1.0], [4.0, -4.0, 1.0], [-4.0, 4.0, 1.0]]]],
                      dtype=torch.float64)
    s = r.rasterize(fv)[0]
    xy = pixel_grid(8, 8)
    x, y = xy[..., 0], xy[..., 1]
    # distance to the hypotenuse x + y = 0 (the other edges are far away)
    d2 = (x + y) ** 2 / 2
    expected = torch.sigmoid(torch.where(x + y <= 0, d2, -d2) / sigma)
    expected = torch.where((x + y > 0) & (expected <= 1e-6), 0.0, expected)
    torch.testing.assert_close(s, expected, rtol=1e-10, atol=1e-12)


def test_culling_rule():
    """Outside pairs with D <= eps contribute exactly 0; nearer ones do not."""
    sigma, eps = 1e-3, 1e-2
    r = renderers.get("softras", image_size=64, sigma=sigma, eps=eps)
    fv = torch.tensor([[[[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.0, 0.5, 1.0]]]],
                      dtype=torch.float64)
    s = r.rasterize(fv)[0]
    ref = renderers.get("softras_torch", image_size=64, sigma=sigma, eps=0.499999)
    # with eps near 0.5 the reference keeps only insides: compare the support
    support = s > 0
    outside_kept = support & (ref.rasterize(fv)[0] < 0.5)
    assert outside_kept.any()
    assert (s[outside_kept] > eps).all()
    xy = pixel_grid(64, 64)
    far = (xy[..., 1] < -0.5 - 1.01 * cull_dist2(sigma, eps) ** 0.5)
    assert (s[far] == 0).all()


def test_sigma_to_zero_matches_hard_except_near_edges():
    """softras >= 0.5 equals hard except on pixels within one pixel of an edge."""
    h = w = 48
    fv = random_faces(2, 8, seed=5)
    soft = renderers.get("softras", image_size=h, sigma=1e-7).rasterize(fv) >= 0.5
    hard = renderers.get("hard", image_size=h).rasterize(fv) > 0.5
    diff = soft != hard
    xy = pixel_grid(h, w).reshape(-1, 2)
    px, py = xy[:, 0], xy[:, 1]
    from renderers.soft_math import pixel_face_terms

    d2, _ = pixel_face_terms(px, py, fv)  # [B, F, P]
    near_edge = (d2.min(dim=1).values < (2.0 / w) ** 2).reshape(diff.shape)
    assert diff.sum() <= near_edge.sum()
    assert not (diff & ~near_edge).any()
    # and they do agree on the vast majority of pixels
    assert (~diff).float().mean() > 0.95


def test_images_are_independent_and_in_range():
    r = renderers.get("softras", image_size=16, sigma=1e-3)
    fv = random_faces(3, 6, seed=11)
    s = r.rasterize(fv)
    assert s.shape == (3, 16, 16) and s.min() >= 0 and s.max() <= 1
    torch.testing.assert_close(r.rasterize(fv[1:2])[0], s[1], rtol=0, atol=1e-15)


def test_empty_and_offscreen_and_huge_faces():
    r = renderers.get("softras", image_size=16, sigma=1e-3)
    assert r.rasterize(torch.zeros(2, 0, 3, 3)).abs().sum() == 0
    off = torch.tensor([[[[5.0, 5.0, 1.0], [6.0, 5.0, 1.0], [5.0, 6.0, 1.0]]]])
    assert r.rasterize(off).sum() == 0
    big = renderers.validation.MAX_COORDINATE[torch.float32]  # every finite float32
    huge = torch.tensor([[[[-big, -big, 1.0], [big, -big, 1.0], [0.0, big, 1.0]]]],
                        requires_grad=True)
    s = r.rasterize(huge)
    s.sum().backward()
    assert torch.isfinite(s).all() and torch.isfinite(huge.grad).all()
    degenerate = torch.tensor([[[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]]],
                              dtype=torch.float64, requires_grad=True)
    s = r.rasterize(degenerate)
    s.sum().backward()
    assert torch.isfinite(degenerate.grad).all() and s.max() < 0.5


def test_no_nan_gradients_at_paper_sigma():
    """Deep-inside pixels (d^2/sigma ~ 1e4) give finite gradients (no exp overflow)."""
    r = renderers.get("softras", image_size=32, sigma=3e-5)
    fv = random_faces(2, 20, dtype=torch.float32, seed=2).requires_grad_()
    s = r.rasterize(fv)
    (s * torch.rand_like(s)).sum().backward()
    assert torch.isfinite(fv.grad).all() and fv.grad.abs().sum() > 0


def test_render_through_camera_matches_rasterize():
    from metrics.meshes import template_sphere

    v, f = template_sphere(subdivisions=1)
    v = torch.as_tensor(v)
    f = torch.as_tensor(f)
    cam = renderers.Camera.benchmark([0, 5])
    r = renderers.get("softras", image_size=32, sigma=1e-4)
    s = r.render(v, f, cam)
    fv = renderers.gather_faces(cam.project(v[None].expand(2, -1, -1)), f)
    torch.testing.assert_close(s, r.rasterize(fv))
    assert s.shape == (2, 32, 32) and s.sum() > 0


@pytest.mark.parametrize("name", ["softras", "softras_torch"])
def test_bad_soft_options_raise_clearly(name):
    """The soft renderers' own options; the bad face-vertex inputs every renderer refuses
    are tested once for all in ``test_dibr_antialias_edgegrad.test_bad_input_raises_clearly``."""
    for sigma in (0.0, -1e-3, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            renderers.get(name, sigma=sigma)
    with pytest.raises(ValueError, match="eps"):
        renderers.get(name, eps=0.7)
    with pytest.raises(ValueError, match="image size"):
        renderers.get(name, image_size=0)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    r = renderers.get("softras", image_size=32, sigma=1e-3)
    fv = random_faces(2, 10, dtype=torch.float32, seed=4)
    a = fv.clone().requires_grad_()
    b = fv.clone().cuda().requires_grad_()
    sa, sb = r.rasterize(a), r.rasterize(b)
    assert sb.device.type == "cuda"
    torch.testing.assert_close(sb.cpu(), sa, rtol=1e-4, atol=1e-5)
    sa.sum().backward()
    sb.sum().backward()
    torch.testing.assert_close(b.grad.cpu(), a.grad, rtol=1e-3,
                               atol=1e-3 * float(a.grad.abs().max()))


# -- backward="autodiff": Taichi's reverse mode of the same forward (issue 22) -----------
def _adjoint_and_autodiff(fv, weight, **options):
    out = []
    for backward in ("adjoint", "autodiff"):
        r = renderers.get("softras", backward=backward, **options)
        x = fv.clone().requires_grad_()
        s = r.rasterize(x)
        (s * weight).sum().backward()
        out.append((s.detach(), x.grad))
    return out


@pytest.mark.parametrize("sigma", [3e-5, 1e-3, 3e-2])
def test_autodiff_backward_equals_the_adjoints_float64(sigma):
    """Same forward, and the reverse mode's gradient equals the hand-written adjoints'
    to 1e-12 of the gradient's size (overlapping, back-facing, non-square image)."""
    fv = random_faces(2, 16, seed=11, scale=0.7)
    w = torch.rand(2, 24, 20, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (sa, ga), (sb, gb) = _adjoint_and_autodiff(fv, w, image_size=(24, 20), sigma=sigma)
    torch.testing.assert_close(sb, sa, rtol=0, atol=1e-13)
    assert float(ga.abs().max()) > 0
    torch.testing.assert_close(gb, ga, rtol=0, atol=1e-12 * float(ga.abs().max()))


def test_autodiff_backward_float32_is_close():
    fv = random_faces(2, 16, dtype=torch.float32, seed=5, scale=0.7)
    w = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(3))
    (sa, ga), (sb, gb) = _adjoint_and_autodiff(fv, w, image_size=16, sigma=1e-3)
    torch.testing.assert_close(sb, sa, rtol=0, atol=1e-6)
    torch.testing.assert_close(gb, ga, rtol=0, atol=1e-5 * float(ga.abs().max()))


@pytest.mark.gradcheck
@pytest.mark.parametrize("sigma", [1e-3, 1e-2])
def test_autodiff_backward_matches_finite_differences(sigma):
    r = renderers.get("softras", image_size=(12, 10), sigma=sigma, backward="autodiff")
    fv = random_faces(2, 4, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(r.rasterize, (fv,), eps=1e-7, atol=1e-5, rtol=1e-4)


def test_backward_option_is_validated_by_name():
    with pytest.raises(ValueError, match="backward must be one of"):
        renderers.get("softras", backward="numeric")
    assert renderers.describe("softras").defaults()["backward"] == "adjoint"
    fv = random_faces(1, 6, seed=0)
    ad = renderers.get("softras", image_size=16, backward="autodiff")
    assert ad.pairs_evaluated(fv) >= renderers.get("softras", image_size=16).pairs_evaluated(fv)
    assert "backward='autodiff'" in repr(ad)
