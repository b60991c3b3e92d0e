"""Every bad input a hostile user tries gets one clear Python exception naming the
problem, raised before any buffer is allocated or any Taichi kernel runs (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import renderers
from renderers.grid import MAX_IMAGE_PIXELS, image_hw
from renderers.hard import rasterize_coverage
from renderers.n3mr import approximate_gradient
from renderers.validation import MAX_COORDINATE, MAX_KERNEL_ELEMENTS

TRI = torch.tensor([[[[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.0, 0.5, 2.0]]]],
                   dtype=torch.float64)
VERTS = torch.tensor([[[-0.3, -0.3, 0.0], [0.3, -0.3, 0.0], [0.0, 0.3, 0.0]]],
                     dtype=torch.float64)
FACES = torch.tensor([[0, 1, 2]])


@pytest.mark.parametrize(("size", "expect"), [
    (16, (16, 16)), (np.int64(16), (16, 16)), (np.int32(9), (9, 9)), (torch.tensor(16), (16, 16)),
    (np.array(12), (12, 12)), ((3, 5), (3, 5)), ([3, 5], (3, 5)), ((np.int16(4), torch.tensor(6)),
    (4, 6)), (torch.tensor([7, 2]), (7, 2)), (np.array([2, 7]), (2, 7)),
    ((1, MAX_IMAGE_PIXELS), (1, MAX_IMAGE_PIXELS)),
])
def test_image_size_accepts_ints_and_int_likes(size, expect):
    assert image_hw(size) == expect
    assert all(type(v) is int for v in image_hw(size))


@pytest.mark.parametrize(("size", "error", "match"), [
    ("64", TypeError, "int or an \\(H, W\\) pair"),
    (True, TypeError, "got True"),
    (np.bool_(True), TypeError, "int or an"),
    (torch.tensor(True), TypeError, "int or an"),
    (2.5, TypeError, "got 2.5"),
    (16.0, TypeError, "got 16.0"),
    (np.float64(16), TypeError, "int or an"),
    (torch.tensor(16.0), TypeError, "int or an"),
    (torch.tensor([16]), ValueError, "got 1 values"),
    ([16], ValueError, "got 1 values"),
    ((16, 16, 3), ValueError, "got 3 values"),
    ((16.0, 8), TypeError, "int or an"),
    (("16", 8), TypeError, "int or an"),
    (None, TypeError, "NoneType"),
    (0, ValueError, "positive"),
    (-4, ValueError, "positive"),
    ((8, 0), ValueError, "positive"),
    (100000, ValueError, "MAX_IMAGE_PIXELS"),
    ((4097, 4096), ValueError, "MAX_IMAGE_PIXELS"),
])
@pytest.mark.parametrize("name", renderers.available())
def test_image_size_refuses_everything_else_in_every_renderer(name, size, error, match):
    with pytest.raises(error, match=match):
        renderers.get(name, image_size=size)


def test_every_user_of_image_size_checks_it():
    cam = renderers.Camera()
    with pytest.raises(TypeError, match="int or an"):
        renderers.render_vertex_colors(VERTS, FACES, torch.ones(3, 3, dtype=torch.float64), cam,
                                       image_size="64")
    with pytest.raises(TypeError, match="int or an"):
        rasterize_coverage(TRI, 2.5, 4)
    with pytest.raises(ValueError, match="MAX_IMAGE_PIXELS"):
        rasterize_coverage(TRI, 100000, 100000)


def _huge_batch():
    """[2**28, 1, 3, 3] face vertices without allocating them (a stride-0 expand)."""
    return TRI.expand(2**28, 1, 3, 3)


@pytest.mark.parametrize("name", renderers.available())
def test_huge_batches_are_refused_before_allocation(name):
    """Taichi indexes with int32: more than MAX_KERNEL_ELEMENTS elements would be read
    out of bounds; refused (quickly, without allocating gigabytes)."""
    r = renderers.get(name, image_size=8)
    with pytest.raises(ValueError, match="MAX_KERNEL_ELEMENTS"):
        r.rasterize(_huge_batch())
    faces = FACES.expand(MAX_KERNEL_ELEMENTS // 9 + 1, 3)
    with pytest.raises(ValueError, match="MAX_KERNEL_ELEMENTS"):
        r.render(VERTS, faces, renderers.Camera())


def test_a_camera_with_too_many_views_is_refused_before_projecting():
    cam = renderers.Camera(azimuth=torch.zeros(2**12))
    with pytest.raises(ValueError, match="MAX_KERNEL_ELEMENTS"):
        cam.project(VERTS[:, :1].expand(1, 2**20, 3))  # 2**32 x 3 camera-frame values


def test_hard_refuses_an_image_batch_past_the_kernel_limit():
    fv = TRI.expand(2**12, 1, 3, 3)  # 4096 images of 1024 x 1024 = 2**32 pixels
    with pytest.raises(ValueError, match="MAX_KERNEL_ELEMENTS"):
        rasterize_coverage(fv, 1024, 1024)


@pytest.mark.parametrize("name", renderers.available())
@pytest.mark.parametrize(("face_vertices", "error", "match"), [
    (TRI[0, 0, 0, 0], ValueError, "shape \\[B, F, 3, 3\\]"),  # 0-d
    (TRI.reshape(-1), ValueError, "shape \\[B, F, 3, 3\\]"),  # 1-d
    (TRI.to(torch.int64), TypeError, "float32 or float64"),
    (TRI.to(torch.float16), TypeError, "float32 or float64"),
    (TRI.to(torch.complex128), TypeError, "float32 or float64"),
    (TRI.numpy(), TypeError, "torch.Tensor"),
    (TRI.to_sparse(), TypeError, "dense"),
    (torch.empty(1, 1, 3, 3, device="meta"), ValueError, "device meta"),
    (TRI[:0], ValueError, "at least one image"),
    (TRI * float("nan"), ValueError, "NaN/Inf"),
    (TRI * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64), ValueError, "behind the camera"),
])
def test_rasterize_refuses_bad_face_vertices(name, face_vertices, error, match):
    with pytest.raises(error, match=match):
        renderers.get(name, image_size=8).rasterize(face_vertices)


@pytest.mark.parametrize("name", renderers.available())
@pytest.mark.parametrize(("dtype", "big"), [(torch.float64, 1e300), (torch.float32, 3e38),
                                            (torch.float32, 1e19), (torch.float64, 1e154)])
def test_coordinates_near_the_float_range_are_refused_or_exact(name, dtype, big):
    """softras returned NaN gradients and softras_torch NaN images for finite
    coordinates near the float range.  Now each renderer either refuses them naming
    its limit, or renders finite images and gradients (hard, n3mr: sign tests only)."""
    fv = TRI.clone()
    fv[0, 0, 1, 0] = big
    fv = fv.to(dtype).requires_grad_(True)
    try:
        out = renderers.get(name, image_size=8).rasterize(fv)
    except ValueError as err:
        assert "MAX_COORDINATE" in str(err)
        assert name not in ("hard", "n3mr"), "hard and n3mr take any finite input"
        return
    out.sum().backward()
    out = out.detach()
    assert torch.isfinite(out).all() and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert torch.isfinite(fv.grad).all()
    assert name not in ("softras", "softras_torch") or big <= MAX_COORDINATE[dtype]


@pytest.mark.parametrize("name", renderers.available())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_coordinates_at_the_limit_render_finite(name, dtype):
    # A renderer may declare a lower limit (pytorch3d_soft: PyTorch3D's float32 kernel);
    # beyond it the near-float-range test wants a one-line refusal naming it.
    big = (renderers.get(name, image_size=16).max_coordinate or MAX_COORDINATE)[dtype]
    fv = torch.tensor([[[[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.0, 0.5, 2.0]],
                        [[-big, -0.5, 2.0], [big, -0.5, big], [0.0, big, 1e-5]]]], dtype=dtype,
                      requires_grad=True)
    options = {"sigma": 1e-12} if renderers.accepts_option(name, "sigma") else {}
    out = renderers.get(name, image_size=16, **options).rasterize(fv)
    (out * torch.linspace(-1, 1, out.numel(), dtype=dtype).reshape(out.shape)).sum().backward()
    out = out.detach()
    assert torch.isfinite(out).all() and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert torch.isfinite(fv.grad).all()


@pytest.mark.parametrize("name", renderers.available())
def test_non_contiguous_and_expanded_input_render_like_contiguous(name):
    def r():  # a fresh instance per call: a Monte Carlo renderer draws the same samples
        return renderers.get(name, image_size=16)

    fv = torch.cat([TRI, TRI + 0.1], dim=1)
    strided = fv.transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
    assert not strided.is_contiguous()
    torch.testing.assert_close(r().rasterize(strided), r().rasterize(fv))
    torch.testing.assert_close(r().rasterize(fv[:, :1].expand(3, 1, 3, 3)),
                               r().rasterize(fv[:, :1]).expand(3, 16, 16))


@pytest.mark.parametrize(("vertices", "faces", "error", "match"), [
    (VERTS, FACES.float(), TypeError, "integer"),
    (VERTS, FACES.bool(), TypeError, "integer"),
    (VERTS, FACES + 5, IndexError, "out of range"),
    (VERTS, FACES - 1, IndexError, "out of range"),
    (VERTS, FACES.reshape(-1), ValueError, "faces must have shape"),
    (VERTS, torch.tensor(0), ValueError, "faces must have shape"),
    (VERTS[0, 0], FACES, ValueError, "vertices must have shape"),
    (VERTS.to(torch.int64), FACES, TypeError, "float32 or float64"),
    (VERTS.tolist(), FACES, TypeError, "torch.Tensor"),
    (VERTS.to_sparse(), FACES, TypeError, "dense"),
    (VERTS * float("inf"), FACES, ValueError, "NaN/Inf"),
    (VERTS, FACES.expand(2, 1, 3), ValueError, "does not match"),
])
@pytest.mark.parametrize("name", renderers.available())
def test_render_refuses_bad_meshes(name, vertices, faces, error, match):
    with pytest.raises(error, match=match):
        renderers.get(name, image_size=8).render(vertices, faces, renderers.Camera())


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"elevation": "30"}, TypeError, "elevation must be a number"),
    ({"azimuth": True}, TypeError, "bool"),
    ({"azimuth": torch.zeros(2, 2)}, ValueError, "1-d tensor"),
    ({"azimuth": torch.zeros(0)}, ValueError, "non-empty"),
    ({"azimuth": torch.zeros(3, dtype=torch.complex64)}, TypeError, "real"),
    ({"azimuth": torch.zeros(3), "elevation": torch.zeros(2)}, ValueError, "one batch size"),
    ({"distance": torch.tensor([1.0, -2.0])}, ValueError,
     r"distance must be in \(0, .* must be positive"),
    ({"distance": float("inf")}, ValueError, "finite"),
    ({"viewing_angle": "30"}, TypeError, "viewing_angle"),
    ({"viewing_angle": 90.0}, ValueError, "viewing_angle"),
    ({"viewing_angle": torch.tensor([10.0, 20.0])}, TypeError, "viewing_angle"),
])
def test_camera_refuses_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        renderers.Camera(**kwargs)


def test_camera_accepts_numbers_numpy_and_tensors_alike():
    a = renderers.Camera(azimuth=np.float32(30), elevation=np.array([10.0, 20.0]), distance=3)
    b = renderers.Camera(azimuth=torch.tensor(30.0), elevation=torch.tensor([10.0, 20.0]),
                         distance=torch.tensor([3.0]))
    torch.testing.assert_close(a.eye(), b.eye())
    assert a.eye().shape == (2, 3)
    with pytest.raises(TypeError, match="float32 or float64"):
        a.project(VERTS.long())
    with pytest.raises(ValueError, match="2 views"):
        a.project(VERTS.expand(3, 3, 3))


NUMERIC_OPTIONS = [
    ("sigma", "1e-4", TypeError, "sigma must be a number"),
    ("sigma", True, TypeError, "sigma must be a number"),
    ("sigma", None, TypeError, "sigma must be a number"),
    ("sigma", [1e-4], TypeError, "sigma must be a number"),
    ("sigma", 0.0, ValueError, "SIGMA_RANGE"),
    ("sigma", 1e-320, ValueError, "SIGMA_RANGE"),
    ("sigma", 1e308, ValueError, "SIGMA_RANGE"),
    ("sigma", float("nan"), ValueError, "finite"),
    ("eps", "x", TypeError, "eps must be a number"),
    ("eps", None, TypeError, "eps must be a number"),
    ("eps", False, TypeError, "eps must be a number"),
]


@pytest.mark.parametrize(("name", "option", "value", "error", "match"), [
    (name, *case) for name in renderers.available() for case in NUMERIC_OPTIONS
    if renderers.accepts_option(name, case[0])])
def test_numeric_options_are_checked(name, option, value, error, match):
    with pytest.raises(error, match=match):
        renderers.get(name, **{option: value})


def test_vertex_colours_refuse_bad_colours_and_background():
    cam = renderers.Camera()
    colors = torch.ones(3, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="background must be a number"):
        renderers.render_vertex_colors(VERTS, FACES, colors, cam, 8, background="white")
    with pytest.raises(TypeError, match="float32 or float64"):
        renderers.render_vertex_colors(VERTS, FACES, colors.long().requires_grad_(False), cam, 8)
    with pytest.raises(ValueError, match="shape"):
        renderers.render_vertex_colors(VERTS, FACES, colors[0], cam, 8)
    with pytest.raises(ValueError, match="MAX_KERNEL_ELEMENTS"):
        renderers.render_vertex_colors(VERTS, FACES, colors[:, :1].expand(3, 2**20), cam,
                                       (64, 64))


def test_n3mr_approximate_gradient_checks_its_maps():
    """A public entry point whose kernel reads faces by face_index: a bad index would be
    read out of bounds."""
    sil = torch.ones(1, 4, 4, dtype=torch.float64)
    grad = torch.ones_like(sil)
    idx = torch.zeros(1, 4, 4, dtype=torch.int32)
    with pytest.raises(IndexError, match="face_index must lie in -1..0"):
        approximate_gradient(TRI, sil, idx + 3, grad)
    with pytest.raises(TypeError, match="integer"):
        approximate_gradient(TRI, sil, idx.float(), grad)
    with pytest.raises(ValueError, match="NaN/Inf"):
        approximate_gradient(TRI * float("nan"), sil, idx, grad)
    with pytest.raises(ValueError, match="shape"):
        approximate_gradient(TRI, sil, idx[:, :2], grad)
    assert approximate_gradient(TRI, sil, idx, grad).shape == TRI.shape


@pytest.mark.parametrize("name", renderers.available())
def test_render_refuses_a_camera_that_is_not_a_camera(name):
    with pytest.raises(TypeError, match="renderers.Camera"):
        renderers.get(name, image_size=8).render(torch.rand(1, 3, 3),
                                                 torch.tensor([[0, 1, 2]]), "cam")


@pytest.mark.parametrize("name", renderers.available())
def test_zero_faces_give_an_empty_image_with_a_gradient_path(name):
    """No faces: an empty image, and backward through it gives a zero gradient instead
    of failing (softras_torch raised "does not require grad")."""
    fv = torch.zeros(2, 0, 3, 3, dtype=torch.float64, requires_grad=True)
    out = renderers.get(name, image_size=8).rasterize(fv)
    assert out.shape == (2, 8, 8) and float(out.abs().sum()) == 0
    assert out.requires_grad
    out.sum().backward()
    assert fv.grad is None or fv.grad.shape == fv.shape
