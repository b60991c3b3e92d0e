"""The camera says what range a parameter must lie in and why, itself: before, a
distance of 1e200 was refused as "must be finite" (torch's float32 made it Inf) and a
viewing angle of 1e-300 passed and surfaced as "face_vertices contain NaN/Inf"."""

from __future__ import annotations

import pytest
import torch

import renderers
from renderers.camera import MAX_DISTANCE, MIN_VIEWING_ANGLE


@pytest.mark.parametrize("distance", [1e200, 1e31, torch.tensor([2.0, 1e40], dtype=torch.float64)])
def test_too_far_a_camera_names_the_range_and_why(distance):
    with pytest.raises(ValueError, match=r"camera distance must be in \(0, 1e\+30\] world "
                                         r"units, got 1e\+\d+: .*overflow") as info:
        renderers.Camera(distance=distance)
    assert "finite" not in str(info.value)


@pytest.mark.parametrize("distance", [0, -1.0])
def test_a_camera_at_or_behind_the_origin_says_positive(distance):
    with pytest.raises(ValueError, match=r"must be in \(0, .*must be positive"):
        renderers.Camera(distance=distance)


@pytest.mark.parametrize("angle", [1e-300, 1e-3, 0.0, 90.0, 120.0, -5.0])
def test_viewing_angle_out_of_range_is_refused_by_the_camera(angle):
    with pytest.raises(ValueError, match=r"viewing_angle \(the half field of view\) must be "
                                         r"in \[0\.01, 90\) degrees.*tan\(viewing_angle\)"):
        renderers.Camera(viewing_angle=angle)


def test_the_range_bounds_themselves_render_finite_images():
    v = torch.tensor([[-0.3, -0.3, 0.0], [0.3, -0.3, 0.0], [0.0, 0.3, 0.0]])
    f = torch.tensor([[0, 1, 2]])
    r = renderers.build("softras", image_size=8)
    for cam in (renderers.Camera(viewing_angle=MIN_VIEWING_ANGLE),
                renderers.Camera(distance=MAX_DISTANCE)):
        assert torch.isfinite(r.render(v, f, cam)).all()
    assert renderers.Camera(distance=1e30).distance == 1e30  # a Python float stays float64
