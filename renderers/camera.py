"""The one camera model shared by every renderer, data set and metric.

Conventions (as in N3MR and the official SoftRas):

* World frame: right-handed model coordinates, ``+y`` up.  The eye sits at
  ``(d*cos(el)*sin(az), d*sin(el), -d*cos(el)*cos(az))`` for distance ``d`` (world
  units), elevation ``el`` and azimuth ``az`` (degrees), and looks at the origin.
* Camera frame (look-at): ``z`` points from the eye towards the origin (depth, > 0 in
  front of the camera), ``x`` = normalize(up x z) points right on screen, ``y`` up.
* Poles: at ``el = +-90`` (eye on the ``y`` axis) the look-at frame with up ``+y`` is
  undefined (SoftRas/N3MR collapse it); here it is the limit reached from ``|el| < 90``
  at the same azimuth, ``x = (cos az, 0, sin az)``, so images are continuous in
  elevation up to and including the poles (:func:`camera_axes`).
* Precision: camera parameters are converted to the render dtype (the vertices'
  dtype) directly; Python floats are never rounded through float32.
* Perspective: screen ``x = x_c / (z_c * tan(viewing_angle))``, likewise ``y``; so
  ``viewing_angle`` (degrees) is the half field of view, exactly N3MR's
  ``perspective``.  Screen space is ``x`` right, ``y`` up, the visible square is
  ``[-1, 1]^2`` (see :mod:`renderers.grid` for the pixel grid).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .validation import check_kernel_elements

DEFAULT_DISTANCE = 2.732
DEFAULT_ELEVATION = 30.0
DEFAULT_VIEWING_ANGLE = 30.0
#: The ShapeNet benchmark renderings (N3MR / SoftRas) use viewing angle 15 and
#: azimuth ``-15 * view`` for view ``0..23`` at the default distance and elevation.
BENCHMARK_VIEWING_ANGLE = 15.0
BENCHMARK_NUM_VIEWS = 24
#: Below this norm of ``up x z`` an eye counts as on the up axis (generic look-at).
POLE_TOLERANCE = 1e-9
#: Largest camera distance (world units).  Eye positions and camera depths are computed
#: in the render dtype, float32 for most inputs (largest value 3.4e38); this bound keeps
#: them and their sums finite with a wide margin (at such a distance any mesh is far
#: below a pixel anyway).
MAX_DISTANCE = 1e30
#: Smallest half field of view (degrees).  Screen coordinates are divided by
#: ``tan(viewing_angle)``: below 0.01 degree the float32 rounding of the camera-frame
#: coordinates (relative 1.2e-7) reaches a pixel of the largest image (4096 pixels
#: across, ``renderers.grid.MAX_IMAGE_PIXELS``), and far below it the projection
#: overflows to Inf (``tan(1e-300 degrees)`` is 0 in float32).
MIN_VIEWING_ANGLE = 0.01


def benchmark_azimuths(views: torch.Tensor | list[int] | int | None = None) -> torch.Tensor:
    """Azimuths in degrees of the benchmark views: ``-15 * view``.

    ``views``: int view ids in ``0..23`` (tensor, list or a single int); ``None``
    gives all 24.  Returns a float64 tensor of the same length (1 for an int).
    """
    if views is None:
        views = torch.arange(BENCHMARK_NUM_VIEWS)
    views = torch.as_tensor(views).reshape(-1)
    if views.numel() and (int(views.min()) < 0 or int(views.max()) >= BENCHMARK_NUM_VIEWS):
        raise ValueError(f"benchmark view ids must lie in 0..{BENCHMARK_NUM_VIEWS - 1}")
    return -15.0 * views.to(torch.float64)


def eye_position(distance, elevation, azimuth) -> torch.Tensor:
    """Eye positions in world units, shape ``[B, 3]`` (float64 unless a tensor argument
    sets the dtype).  Arguments are scalars or ``[B]`` tensors; angles in degrees."""
    d, el, az = torch.broadcast_tensors(
        *[torch.as_tensor(a, dtype=torch.float64) if not torch.is_tensor(a) else a
          for a in (distance, elevation, azimuth)]
    )
    el = torch.deg2rad(el)
    az = torch.deg2rad(az)
    eye = torch.stack(
        [d * torch.cos(el) * torch.sin(az), d * torch.sin(el), -d * torch.cos(el) * torch.cos(az)],
        dim=-1,
    )
    return eye.reshape(-1, 3)


def look_at_rotation(eye: torch.Tensor, up=(0.0, 1.0, 0.0)) -> torch.Tensor:
    """Rotation ``[B, 3, 3]`` whose rows are the camera axes (x, y, z) in world
    coordinates, for eyes ``[B, 3]`` looking at the origin with the given up vector.

    The generic look-at (as SoftRas / N3MR): undefined when an eye lies on the ``up``
    axis, so this raises ``ValueError`` there.  :class:`Camera` uses
    :func:`camera_axes`, which is defined at the poles too."""
    up_t = torch.as_tensor(up, dtype=eye.dtype, device=eye.device).expand_as(eye)
    z = torch.nn.functional.normalize(-eye, dim=-1)
    x = torch.cross(up_t, z, dim=-1)
    if (x.norm(dim=-1) < POLE_TOLERANCE).any():
        raise ValueError("look_at_rotation: an eye lies on the up axis, the look-at frame is "
                         "undefined; use Camera, which defines it at the poles")
    x = torch.nn.functional.normalize(x, dim=-1)
    y = torch.nn.functional.normalize(torch.cross(z, x, dim=-1), dim=-1)
    return torch.stack([x, y, z], dim=-2)


def camera_axes(elevation: torch.Tensor, azimuth: torch.Tensor) -> torch.Tensor:
    """Rotation ``[B, 3, 3]`` (rows: camera x, y, z in world coordinates) of the look-at
    camera at ``elevation``, ``azimuth`` (degrees, ``[B]`` tensors of the render dtype).

    Equal to :func:`look_at_rotation` of the eye with up ``+y`` wherever that is defined
    (closed form: ``x = s * (cos az, 0, sin az)``, ``z`` = unit vector from the eye to the
    origin, ``y = z x x``, with ``s = sign(cos el)``).  At the poles (``el = +-90`` and
    equivalents, where the look-at degenerates) it is the limit approached from the
    principal range ``|el| < 90`` at the same azimuth: ``s = +1``.  So images are
    continuous in elevation across ``(-90, 90)`` up to and including both poles, and at
    the pole the azimuth still turns the image.  (SoftRas/N3MR's look-at returns a
    collapsed frame there.)  ``s`` is decided on the angle in degrees, not on a rounded
    ``cos``, so float32 and float64 agree at the poles."""
    wrapped = torch.remainder(elevation + 180.0, 360.0) - 180.0  # [-180, 180)
    s = torch.where(wrapped.abs() <= 90.0, 1.0, -1.0).to(elevation.dtype)
    el, az = torch.deg2rad(elevation), torch.deg2rad(azimuth)
    zero = torch.zeros_like(az)
    x = torch.stack([s * torch.cos(az), zero, s * torch.sin(az)], dim=-1)
    z = -torch.stack([torch.cos(el) * torch.sin(az), torch.sin(el),
                      -torch.cos(el) * torch.cos(az)], dim=-1)
    y = torch.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-2)


def _check_parameter(name: str, value) -> int:
    """A camera parameter: a real Python/numpy number or a 0-d / 1-d real tensor/array,
    finite.  Returns its batch length (1 for a scalar)."""
    if isinstance(value, bool) or (torch.is_tensor(value) and value.dtype == torch.bool):
        raise TypeError(f"camera {name} must be a number or a 1-d float tensor, got a bool")
    if not torch.is_tensor(value) and not isinstance(value, numbers.Real | np.ndarray):
        raise TypeError(f"camera {name} must be a number or a 1-d float tensor, "
                        f"got {type(value).__name__}")
    # Python numbers in float64: torch's default float32 would turn 1e200 into Inf.
    t = value.detach() if torch.is_tensor(value) else torch.as_tensor(
        value, dtype=torch.float64 if isinstance(value, numbers.Real) else None)
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"camera {name} must be real, got dtype {t.dtype}")
    if t.dim() > 1 or t.numel() == 0:
        raise ValueError(f"camera {name} must be a number or a non-empty 1-d tensor [B], "
                         f"got shape {tuple(t.shape)}")
    if not torch.isfinite(t.double()).all():
        raise ValueError(f"camera {name} must be finite, got {value}")
    if name == "distance":
        _check_distance(t.double())
    return t.numel()


def _check_distance(d: torch.Tensor) -> None:
    """Camera distances (float64, finite) in ``(0, MAX_DISTANCE]``, else ``ValueError``
    saying the range and why."""
    if (d <= 0).any():
        raise ValueError(f"camera distance must be in (0, {MAX_DISTANCE:g}] world units, got "
                         f"{float(d.min()):g}: the eye sits that far from the origin it looks "
                         "at, so it must be positive")
    if (d > MAX_DISTANCE).any():
        raise ValueError(
            f"camera distance must be in (0, {MAX_DISTANCE:g}] world units, got "
            f"{float(d.max()):g}: eye positions and depths are computed in the render dtype "
            "(float32: largest value 3.4e38), so far larger distances overflow to Inf "
            "(renderers.camera.MAX_DISTANCE)")


@dataclass
class Camera:
    """Look-at perspective camera (see the module docstring for every convention).

    Each of ``distance`` (world units), ``elevation``, ``azimuth`` (degrees) is a
    Python number or a ``[B]`` tensor; ``viewing_angle`` is the half field of view in
    degrees.  Ranges: distance in ``(0, MAX_DISTANCE]``, viewing angle in
    ``[MIN_VIEWING_ANGLE, 90)`` (why: :data:`MAX_DISTANCE`,
    :data:`MIN_VIEWING_ANGLE`).  A camera with ``B`` azimuths renders a batch of ``B`` images.
    """

    distance: float | torch.Tensor = DEFAULT_DISTANCE
    elevation: float | torch.Tensor = DEFAULT_ELEVATION
    azimuth: float | torch.Tensor = 0.0
    viewing_angle: float = DEFAULT_VIEWING_ANGLE

    @classmethod
    def benchmark(cls, views=None) -> Camera:
        """The ShapeNet benchmark camera for view ids ``views`` (default: all 24)."""
        return cls(azimuth=benchmark_azimuths(views), viewing_angle=BENCHMARK_VIEWING_ANGLE)

    def __post_init__(self) -> None:
        va = self.viewing_angle
        if isinstance(va, bool) or not isinstance(va, numbers.Real) and not (
                torch.is_tensor(va) and va.numel() == 1 and va.dtype.is_floating_point):
            raise TypeError(f"viewing_angle must be a number of degrees, got {va!r}")
        if not (MIN_VIEWING_ANGLE <= float(va) < 90.0):
            raise ValueError(
                f"viewing_angle (the half field of view) must be in [{MIN_VIEWING_ANGLE:g}, "
                f"90) degrees, got {float(va):g}: 90 and beyond is no perspective view, and "
                "screen coordinates are divided by tan(viewing_angle), so a narrower one "
                "magnifies float32 rounding past a pixel and then overflows to Inf "
                "(renderers.camera.MIN_VIEWING_ANGLE)")
        sizes = {name: _check_parameter(name, getattr(self, name))
                 for name in ("distance", "elevation", "azimuth")}
        batches = {n for n in sizes.values() if n != 1}
        if len(batches) > 1:
            raise ValueError(f"camera distance, elevation and azimuth must have one batch size "
                             f"B (or 1), got {sizes}")

    def batch_size(self) -> int:
        """Number of views ``B`` (the longest of distance, elevation, azimuth)."""
        return max(torch.as_tensor(getattr(self, n)).numel()
                   for n in ("distance", "elevation", "azimuth"))

    def _parameters(self, dtype, device) -> list[torch.Tensor]:
        """``[distance, elevation, azimuth]`` as ``[B]`` tensors in ``dtype`` on ``device``.
        Python numbers are converted straight to ``dtype`` (never through float32);
        tensors keep their autograd graph."""
        out = [a.to(dtype=dtype, device=device) if torch.is_tensor(a)
               else torch.as_tensor(a, dtype=dtype, device=device)
               for a in (self.distance, self.elevation, self.azimuth)]
        return [t.reshape(-1).expand(self.batch_size()) for t in out]

    def eye(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """Eye positions ``[B, 3]`` in world units, in ``dtype`` on ``device``."""
        return eye_position(*self._parameters(dtype, device))

    def rotation(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """Camera axes ``[B, 3, 3]`` (rows x, y, z in world coordinates), see
        :func:`camera_axes` (defined at the poles too)."""
        _, el, az = self._parameters(dtype, device)
        return camera_axes(el, az)

    def world_to_camera(self, vertices: torch.Tensor) -> torch.Tensor:
        """World ``[B, V, 3]`` (or ``[V, 3]``) to camera-frame coordinates ``[B, V, 3]``
        (x right, y up, z depth) in the vertices' dtype; differentiable w.r.t.
        ``vertices``."""
        if not torch.is_tensor(vertices) or vertices.dtype not in (torch.float32, torch.float64):
            what = vertices.dtype if torch.is_tensor(vertices) else type(vertices).__name__
            raise TypeError(f"vertices must be a float32 or float64 torch.Tensor, got {what}")
        if vertices.dim() == 2:
            vertices = vertices.unsqueeze(0)
        if vertices.dim() != 3 or vertices.shape[-1] != 3:
            raise ValueError(f"vertices must have shape [B, V, 3], got {tuple(vertices.shape)}")
        nb = vertices.shape[0]
        check_kernel_elements("camera-frame vertices [B, V, 3]",
                              (max(nb, self.batch_size()), vertices.shape[1], 3))
        eye = self.eye(vertices.dtype, vertices.device)
        rot = self.rotation(vertices.dtype, vertices.device)
        if eye.shape[0] not in (1, nb):
            if nb != 1:
                raise ValueError(
                    f"camera has {eye.shape[0]} views but vertices have batch {nb}; "
                    "they must match (or one of them be 1)"
                )
            vertices = vertices.expand(eye.shape[0], -1, -1)
        return torch.einsum("bij,bvj->bvi", rot, vertices - eye[:, None, :])

    def project(self, vertices: torch.Tensor) -> torch.Tensor:
        """World vertices ``[B, V, 3]`` to screen space ``[B, V, 3]``: ``x, y`` in the
        normalized screen frame (visible square ``[-1, 1]^2``, x right, y up) and
        ``z`` the camera depth in world units.  Plain torch, so gradients flow.
        Vertices at depth <= 0 are returned as they are (their x, y are meaningless);
        rasterizers reject them."""
        v = self.world_to_camera(vertices)
        width = math.tan(math.radians(float(self.viewing_angle)))
        z = v[..., 2]
        safe_z = torch.where(z.abs() > 1e-12, z, torch.full_like(z, 1e-12))
        return torch.stack([v[..., 0] / (safe_z * width), v[..., 1] / (safe_z * width), z], dim=-1)
