"""float32 accuracy of the soft rasterizers: the output for float32 input equals the
float64 evaluation of the very same values to 1e-3 per pixel, far vertices included
(issue 13), and the dtype-specialised kernels keep the gradient exact."""

from __future__ import annotations

import pytest
import torch
from random_meshes import random_faces

import renderers

SOFT = ["softras", "softras_torch"]
#: The bound of issue 13: float32 input vs the float64 evaluation of the same values.
PIXEL_TOL = 1e-3


def _far_vertex_faces(scale: float, seed: int = 0) -> torch.Tensor:
    """Random faces where every third face has one vertex moved out to ``scale``
    (its two long edges sweep across the screen), rounded to float32 values."""
    fv = random_faces(3, 24, seed=seed)
    fv[:, ::3, 0, :2] *= scale
    return fv.float()


def _huge_covering_faces(scale: float) -> torch.Tensor:
    """Off-screen vertices, faces covering the screen: an edge crosses the screen near
    y = 0.1 (x from -scale to +scale), another near x = -0.3; one face holds the
    whole screen deep inside; float32 values."""
    fv = torch.tensor([[
        [[-scale, 0.1, 1.0], [scale, 0.13, 1.0], [0.0, scale, 1.0]],
        [[-0.3, -scale, 1.0], [-0.31, scale, 1.5], [scale, 0.0, 2.0]],
        [[-scale, -scale, 1.0], [scale, -scale, 1.0], [0.0, scale, 1.0]],
    ]], dtype=torch.float64)
    return fv.float()


@pytest.mark.parametrize("name", SOFT)
@pytest.mark.parametrize("scale", [1e5, 1e7])
def test_float32_far_vertex_equals_float64_evaluation(name, scale):
    r = renderers.get(name, image_size=32, sigma=3e-5)
    fv = _far_vertex_faces(scale)
    s32 = r.rasterize(fv)
    s64 = r.rasterize(fv.double())
    assert s32.dtype == torch.float32
    assert (s64 > 0.1).any() and (s64 < 0.9).any()
    assert (s32.double() - s64).abs().max() < PIXEL_TOL


@pytest.mark.parametrize("name", SOFT)
@pytest.mark.parametrize("scale", [1e5, 1e7, 1e30])
@pytest.mark.parametrize("sigma", [3e-5, 1e-3])
def test_float32_huge_offscreen_faces_equal_float64_evaluation(name, scale, sigma):
    r = renderers.get(name, image_size=40, sigma=sigma)
    fv = _huge_covering_faces(scale)
    for faces in (fv[:, :1], fv[:, 1:2], fv):
        s32 = r.rasterize(faces)
        s64 = r.rasterize(faces.double())
        assert (s32.double() - s64).abs().max() < PIXEL_TOL
    # the crossing edges leave both sides and (at the wider sigma) soft pixels on screen
    s64 = r.rasterize(fv[:, :2].double())
    assert (s64 < 0.05).any() and (s64 > 0.95).any()
    assert sigma < 1e-3 or ((s64 > 0.05) & (s64 < 0.95)).any()


@pytest.mark.parametrize("scale", [1e5, 1e7])
def test_forced_float32_arithmetic_on_float64_input(scale):
    """``precision="float32"`` on float64 input stays within the bound of the float64
    arithmetic, and ``precision="float64"`` on float32 input matches it closely."""
    fv = _far_vertex_faces(scale, seed=3).double()
    ref = renderers.get("softras", image_size=32, sigma=3e-5, precision="float64")
    f32 = renderers.get("softras", image_size=32, sigma=3e-5, precision="float32")
    s64 = ref.rasterize(fv)
    s = f32.rasterize(fv)
    assert s.dtype == torch.float64
    assert (s - s64).abs().max() < PIXEL_TOL
    torch.testing.assert_close(ref.rasterize(fv.float()).double(), s64, rtol=0, atol=1e-6)


def test_softras_equals_softras_torch_in_float32_with_far_vertices():
    fv = _far_vertex_faces(1e6, seed=5)
    a = renderers.get("softras", image_size=24, sigma=1e-4).rasterize(fv)
    b = renderers.get("softras_torch", image_size=24, sigma=1e-4).rasterize(fv)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_float32_gradient_close_to_float64_gradient(scale):
    """Gradients of float32 input (float32 per-pair arithmetic) vs float64, same values."""
    r = renderers.get("softras", image_size=32, sigma=1e-3)
    fv = random_faces(2, 12, seed=8)
    fv[:, ::4, 1, :2] *= scale
    fv = fv.float()
    g = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(2))
    grads = []
    for x in (fv.clone(), fv.double()):
        x.requires_grad_()
        (r.rasterize(x) * g.to(x.dtype)).sum().backward()
        grads.append(x.grad.double())
    assert grads[1].abs().max() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3,
                               atol=1e-3 * float(grads[1].abs().max()))


@pytest.mark.gradcheck
@pytest.mark.parametrize("seed", [0, 1])
def test_gradcheck_far_vertices_and_float64_arithmetic(seed):
    """Exact gradient (central differences, float64) with far vertices."""
    r = renderers.get("softras", image_size=(10, 12), sigma=3e-3, precision="float64")
    fv = random_faces(1, 5, seed=seed)
    fv[:, 0, 0, :2] *= 50.0
    fv[:, 3, 2, :2] *= 1e3
    fv.requires_grad_()
    assert torch.autograd.gradcheck(r.rasterize, (fv,), eps=1e-7, atol=1e-5, rtol=1e-4)


def test_precision_option_is_checked():
    with pytest.raises(ValueError, match="precision"):
        renderers.get("softras", precision="half")
    assert "precision='auto'" in repr(renderers.get("softras"))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_auto_precision_is_the_input_dtype_on_every_device(device):
    """float64 input computes in float64 on CUDA too (an H200 run found auto=float32 on
    CUDA put float64 input 7e-7 off its CPU result); float32 input in float32."""
    from renderers.softras.function import compute_dtype

    dev = torch.device(device)
    assert compute_dtype("auto", torch.float64, dev) == torch.float64
    assert compute_dtype("auto", torch.float32, dev) == torch.float32
    assert compute_dtype("float32", torch.float64, dev) == torch.float32
    assert compute_dtype("float64", torch.float32, dev) == torch.float64
