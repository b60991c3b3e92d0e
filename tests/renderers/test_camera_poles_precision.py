"""Camera at the poles (a defined frame, continuous in elevation) and camera parameters
kept in the render dtype (issue 13)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import renderers
from renderers.camera import camera_axes, look_at_rotation

# An asymmetric mesh (an L-shaped pair of triangles plus a tilted one) around the origin.
VERTS = torch.tensor([[-0.5, -0.1, -0.3], [0.4, 0.0, -0.3], [-0.5, 0.1, 0.5],
                      [0.1, 0.3, 0.2], [0.3, -0.2, 0.4], [-0.2, 0.2, -0.1]], dtype=torch.float64)
FACES = torch.tensor([[0, 1, 2], [3, 4, 5], [1, 4, 3]])


def _silhouette(elevation: float, azimuth: float, dtype=torch.float64) -> torch.Tensor:
    cam = renderers.Camera(elevation=elevation, azimuth=azimuth)
    return renderers.get("hard", image_size=64).render(VERTS.to(dtype), FACES, cam)[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pole", [90.0, -90.0, 270.0, -270.0])
@pytest.mark.parametrize("azimuth", [0.0, 37.0, -120.0])
def test_pole_image_is_the_limit_from_the_principal_range(pole, azimuth, dtype):
    """At el = +-90 the image is not empty or collapsed: it is (nearly) the image at
    el = +-89.999 at the same azimuth, in float32 as well as float64."""
    near = math.copysign(89.999, math.sin(math.radians(pole)))
    at_pole, close = _silhouette(pole, azimuth, dtype), _silhouette(near, azimuth, dtype)
    assert close.sum() > 50  # the mesh is well visible from above/below
    assert (at_pole != close).sum() <= 3, "the pole image jumps away from its neighbours"


@pytest.mark.parametrize(("pole", "turns"), [(90.0, -1), (-90.0, 1)])
def test_azimuth_turns_the_pole_image(pole, turns):
    """At a pole the azimuth still matters: +90 deg of azimuth turns the image by a
    quarter (clockwise seen from above, anticlockwise from below)."""
    a, b = _silhouette(pole, 0.0), _silhouette(pole, 90.0)
    assert a.sum() > 50 and (a != b).sum() > 20
    assert torch.equal(torch.rot90(a, turns, (0, 1)), b)


@pytest.mark.parametrize("elevation", [-170.0, -60.0, 0.0, 45.0, 89.0, 91.0, 135.0, 250.0])
def test_camera_axes_equal_the_generic_look_at_off_the_poles(elevation):
    az = torch.tensor([0.0, 33.0, -150.0], dtype=torch.float64)
    el = torch.full_like(az, elevation)
    eye = renderers.camera.eye_position(1.0, el, az)
    torch.testing.assert_close(camera_axes(el, az), look_at_rotation(eye), atol=1e-12, rtol=0)


def test_camera_axes_are_orthonormal_at_the_poles():
    el = torch.tensor([90.0, -90.0, 270.0], dtype=torch.float64)
    rot = camera_axes(el, torch.tensor([10.0, 200.0, -45.0], dtype=torch.float64))
    eye3 = torch.eye(3, dtype=torch.float64).expand(3, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(1, 2), eye3, atol=1e-12, rtol=0)
    assert torch.linalg.det(rot).sub(1).abs().max() < 1e-12  # right-handed


def test_generic_look_at_refuses_an_eye_on_the_up_axis():
    with pytest.raises(ValueError, match="up axis"):
        look_at_rotation(torch.tensor([[0.0, 2.0, 0.0]], dtype=torch.float64))


def _reference_projection(point, d, el, az, va):
    """Numpy float64 look-at + perspective, written independently of renderers."""
    el, az = math.radians(el), math.radians(az)
    eye = np.array([d * math.cos(el) * math.sin(az), d * math.sin(el),
                    -d * math.cos(el) * math.cos(az)])
    z = -eye / np.linalg.norm(eye)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    p = np.asarray(point, dtype=np.float64) - eye
    xc, yc, zc = x @ p, y @ p, z @ p
    w = math.tan(math.radians(va))
    return np.array([xc / (zc * w), yc / (zc * w), zc])


@pytest.mark.parametrize("params", [(2.732, 30.0, 40.0, 30.0), (1.7, -12.3, 201.1, 14.9)])
def test_float64_render_keeps_python_float_camera_parameters_in_float64(params):
    """Camera parameters given as Python floats are not rounded to float32 when the
    render is float64: the projection equals float64 math to 1e-12."""
    d, el, az, va = params
    pts = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.0, 0.0], [-0.4, 0.25, 0.33]],
                       dtype=torch.float64)
    got = renderers.Camera(distance=d, elevation=el, azimuth=az, viewing_angle=va).project(pts)
    expect = np.stack([_reference_projection(p, d, el, az, va) for p in pts.numpy()])
    np.testing.assert_allclose(got[0].numpy(), expect, rtol=0, atol=1e-12)
