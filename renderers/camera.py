"""The one camera model shared by every renderer, data set and metric.

Conventions (as in N3MR and the official SoftRas):

* World frame: right-handed model coordinates, ``+y`` up.  The eye sits at
  ``(d*cos(el)*sin(az), d*sin(el), -d*cos(el)*cos(az))`` for distance ``d`` (world
  units), elevation ``el`` and azimuth ``az`` (degrees), and looks at the origin.
* Camera frame (look-at): ``z`` points from the eye towards the origin (depth, > 0 in
  front of the camera), ``x`` = normalize(up x z) points right on screen, ``y`` up.
* Perspective: screen ``x = x_c / (z_c * tan(viewing_angle))``, likewise ``y``; so
  ``viewing_angle`` (degrees) is the half field of view, exactly N3MR's
  ``perspective``.  Screen space is ``x`` right, ``y`` up, the visible square is
  ``[-1, 1]^2`` (see :mod:`renderers.grid` for the pixel grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DEFAULT_DISTANCE = 2.732
DEFAULT_ELEVATION = 30.0
DEFAULT_VIEWING_ANGLE = 30.0
#: The ShapeNet benchmark renderings (N3MR / SoftRas) use viewing angle 15 and
#: azimuth ``-15 * view`` for view ``0..23`` at the default distance and elevation.
BENCHMARK_VIEWING_ANGLE = 15.0
BENCHMARK_NUM_VIEWS = 24


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
    coordinates, for eyes ``[B, 3]`` looking at the origin with the given up vector."""
    up_t = torch.as_tensor(up, dtype=eye.dtype, device=eye.device).expand_as(eye)
    z = torch.nn.functional.normalize(-eye, dim=-1)
    x = torch.nn.functional.normalize(torch.cross(up_t, z, dim=-1), dim=-1)
    y = torch.nn.functional.normalize(torch.cross(z, x, dim=-1), dim=-1)
    return torch.stack([x, y, z], dim=-2)


@dataclass
class Camera:
    """Look-at perspective camera (see the module docstring for every convention).

    Each of ``distance`` (world units), ``elevation``, ``azimuth`` (degrees) is a
    Python number or a ``[B]`` tensor; ``viewing_angle`` is the half field of view in
    degrees.  A camera with ``B`` azimuths renders a batch of ``B`` images.
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
        va = float(self.viewing_angle)
        if not (0.0 < va < 90.0):
            raise ValueError(f"viewing_angle must be in (0, 90) degrees, got {va}")
        for name in ("distance", "elevation", "azimuth"):
            v = torch.as_tensor(getattr(self, name))
            if not torch.isfinite(v).all():
                raise ValueError(f"camera {name} must be finite")
        if (torch.as_tensor(self.distance) <= 0).any():
            raise ValueError("camera distance must be > 0")

    def eye(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """Eye positions ``[B, 3]`` in world units."""
        args = [torch.as_tensor(a).to(dtype=dtype, device=device)
                for a in (self.distance, self.elevation, self.azimuth)]
        return eye_position(*args)

    def world_to_camera(self, vertices: torch.Tensor) -> torch.Tensor:
        """World ``[B, V, 3]`` (or ``[V, 3]``) to camera-frame coordinates ``[B, V, 3]``
        (x right, y up, z depth); differentiable w.r.t. ``vertices``."""
        if vertices.dim() == 2:
            vertices = vertices.unsqueeze(0)
        if vertices.dim() != 3 or vertices.shape[-1] != 3:
            raise ValueError(f"vertices must have shape [B, V, 3], got {tuple(vertices.shape)}")
        eye = self.eye(vertices.dtype, vertices.device)
        rot = look_at_rotation(eye)
        nb = vertices.shape[0]
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
