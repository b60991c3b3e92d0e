"""Input checks run before any kernel: Taichi does not bounds-check in release mode,
so every renderer validates here and raises a clear Python exception instead."""

from __future__ import annotations

import math

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)
#: Smallest accepted camera depth (world units) of a face vertex.
MIN_DEPTH = 1e-6


def check_face_vertices(face_vertices: torch.Tensor) -> None:
    """``face_vertices``: float32/float64 tensor ``[B, F, 3, 3]`` in screen space
    (x, y normalized, z = camera depth > 0), finite."""
    if not torch.is_tensor(face_vertices):
        raise TypeError(f"face_vertices must be a torch.Tensor, got {type(face_vertices).__name__}")
    if face_vertices.dtype not in FLOAT_DTYPES:
        raise TypeError(f"face_vertices must be float32 or float64, got {face_vertices.dtype}")
    if face_vertices.dim() != 4 or tuple(face_vertices.shape[2:]) != (3, 3):
        raise ValueError(
            f"face_vertices must have shape [B, F, 3, 3], got {tuple(face_vertices.shape)}"
        )
    if face_vertices.shape[0] < 1:
        raise ValueError("face_vertices must hold at least one image (B >= 1)")
    if face_vertices.numel() == 0:
        return
    with torch.no_grad():
        bad = ~torch.isfinite(face_vertices)
        if bad.any():
            raise ValueError(f"face_vertices contain {int(bad.sum())} NaN/Inf values")
        z = face_vertices[..., 2]
        behind = z < MIN_DEPTH
        if behind.any():
            raise ValueError(
                f"geometry behind the camera: {int(behind.sum())} face vertices have depth "
                f"z < {MIN_DEPTH} (min z = {float(z.min()):.4g}); move the camera back or "
                "clip the mesh"
            )


def check_vertices_faces(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """``vertices``: float ``[B, V, 3]``; ``faces``: integer ``[F, 3]`` or ``[B, F, 3]``
    with indices in ``0..V-1``.  Returns faces as int64 on the vertices' device."""
    if not torch.is_tensor(vertices) or not torch.is_tensor(faces):
        raise TypeError("vertices and faces must be torch.Tensors")
    if vertices.dtype not in FLOAT_DTYPES:
        raise TypeError(f"vertices must be float32 or float64, got {vertices.dtype}")
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape [B, V, 3], got {tuple(vertices.shape)}")
    if faces.dtype.is_floating_point or faces.dtype == torch.bool or faces.is_complex():
        raise TypeError(f"faces must be an integer tensor (int64), got {faces.dtype}")
    if faces.dim() not in (2, 3) or faces.shape[-1] != 3:
        raise ValueError(f"faces must have shape [F, 3] or [B, F, 3], got {tuple(faces.shape)}")
    if faces.dim() == 3 and faces.shape[0] != vertices.shape[0]:
        raise ValueError(
            f"faces batch {faces.shape[0]} does not match vertices batch {vertices.shape[0]}"
        )
    with torch.no_grad():
        if not torch.isfinite(vertices).all():
            raise ValueError("vertices contain NaN/Inf values")
        nv = vertices.shape[1]
        if faces.numel():
            lo, hi = int(faces.min()), int(faces.max())
            if lo < 0 or hi >= nv:
                raise IndexError(
                    f"face index out of range: faces reference vertices {lo}..{hi} but there "
                    f"are only {nv} vertices"
                )
    return faces.to(device=vertices.device, dtype=torch.int64)


def check_sigma(sigma: float) -> float:
    """``sigma``: positive finite float (squared normalized screen units)."""
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise TypeError(f"sigma must be a positive float, got {sigma!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"sigma must be a finite number > 0, got {sigma}")
    return s


def check_eps(eps: float) -> float:
    """``eps``: culling threshold on a face's probability, in (0, 0.5)."""
    e = float(eps)
    if not (0.0 < e < 0.5):
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    return e
