"""Input checks run before any kernel: Taichi does not bounds-check in release mode,
so every renderer validates here and raises a clear Python exception instead."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)
#: Smallest accepted camera depth (world units) of a face vertex.
MIN_DEPTH = 1e-6
#: Largest accepted |coordinate| of a screen-space face vertex (x, y in normalized screen
#: units, z depth in world units) per input dtype, for the renderers that square
#: distances (the soft ones).  Their per-face setup computes in float64, so every finite
#: float32 value is accepted (float32 max 3.4e38; squares fit float64); float64 input is
#: limited to 1e150 so that squares and their sums stay finite (beyond it the setup
#: overflowed to NaN silently).  ``hard`` and ``n3mr`` only compare signs and accept any
#: finite coordinate.
MAX_COORDINATE = {torch.float32: float(torch.finfo(torch.float32).max), torch.float64: 1e150}
#: Most elements of any tensor handed to a Taichi kernel: Taichi 1.7 indexes ndarrays
#: with int32, and larger arrays are read out of bounds (taichi-dev/taichi#6758).
MAX_KERNEL_ELEMENTS = 2**31 - 1


def check_kernel_elements(what: str, shape: tuple[int, ...]) -> None:
    """Refuse a kernel tensor of ``shape`` with more than :data:`MAX_KERNEL_ELEMENTS`
    elements (before it is allocated)."""
    n = math.prod(int(s) for s in shape)
    if n > MAX_KERNEL_ELEMENTS:
        raise ValueError(
            f"{what} of shape {list(shape)} has {n} elements, more than the renderers' limit "
            f"renderers.validation.MAX_KERNEL_ELEMENTS = {MAX_KERNEL_ELEMENTS}; render fewer "
            "images or faces per call"
        )


def check_image_batch(batch: int, height: int, width: int) -> None:
    """The ``[B, H, W]`` image buffers of one call fit :data:`MAX_KERNEL_ELEMENTS`."""
    check_kernel_elements("the image batch [B, H, W]", (batch, height, width))


def check_storage(name: str, tensor: torch.Tensor) -> None:
    """A dense (strided) tensor on a device the renderers run on (CPU or CUDA)."""
    if tensor.layout != torch.strided:
        raise TypeError(f"{name} must be a dense tensor, got layout {tensor.layout}; "
                        "call .to_dense()")
    if tensor.device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} is on device {tensor.device}; the renderers run on cpu "
                         "or cuda tensors")
    if tensor.device.type == "cuda" and not torch.cuda.is_available():  # pragma: no cover
        raise ValueError(f"{name} is on {tensor.device} but CUDA is not available")


def check_face_vertices(face_vertices: torch.Tensor,
                        max_coordinate: dict | None = MAX_COORDINATE,
                        limit_name: str = "renderers.validation.MAX_COORDINATE") -> None:
    """``face_vertices``: float32/float64 dense CPU/CUDA tensor ``[B, F, 3, 3]`` in screen
    space (x, y normalized, z = camera depth >= :data:`MIN_DEPTH`), finite, every
    coordinate within ``max_coordinate[dtype]`` (default :data:`MAX_COORDINATE`; ``None`` for
    renderers exact for any finite input, as ``hard`` and ``n3mr``, which only compare
    signs; ``limit_name`` names it in the error), at most :data:`MAX_KERNEL_ELEMENTS`
    elements."""
    if not torch.is_tensor(face_vertices):
        raise TypeError(f"face_vertices must be a torch.Tensor, got {type(face_vertices).__name__}")
    if face_vertices.dtype not in FLOAT_DTYPES:
        raise TypeError(f"face_vertices must be float32 or float64, got {face_vertices.dtype}")
    check_storage("face_vertices", face_vertices)
    if face_vertices.dim() != 4 or tuple(face_vertices.shape[2:]) != (3, 3):
        raise ValueError(
            f"face_vertices must have shape [B, F, 3, 3], got {tuple(face_vertices.shape)}"
        )
    if face_vertices.shape[0] < 1:
        raise ValueError("face_vertices must hold at least one image (B >= 1)")
    check_kernel_elements("face_vertices", tuple(face_vertices.shape))
    if face_vertices.numel() == 0:
        return
    with torch.no_grad():  # two reductions (NaN propagates through aminmax)
        lo, hi = (float(t) for t in torch.aminmax(face_vertices))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = int((~torch.isfinite(face_vertices)).sum())
            raise ValueError(f"face_vertices contain {bad} NaN/Inf values")
        biggest = max(-lo, hi)
        limit = None if max_coordinate is None else max_coordinate[face_vertices.dtype]
        if limit is not None and biggest > limit:
            raise ValueError(
                f"face_vertices hold a coordinate of magnitude {biggest:.3g}, beyond "
                f"{limit_name} = {limit:g} for {face_vertices.dtype} "
                "in this renderer; scale the mesh or clip geometry this far off screen"
            )
        z = face_vertices[..., 2]
        zmin = float(z.min())
        if zmin < MIN_DEPTH:
            raise ValueError(
                f"geometry behind the camera: {int((z < MIN_DEPTH).sum())} face vertices "
                f"have depth z < {MIN_DEPTH} (min z = {zmin:.4g}); move the camera back or "
                "clip the mesh"
            )


def vertices_pass_face_checks(vertices: torch.Tensor, num_faces: int,
                              max_coordinate: dict | None = MAX_COORDINATE) -> bool:
    """Whether every face gathered from screen-space ``vertices`` ``[B, V, 3]`` (faces
    ``[F, 3]`` with valid indices, ``F = num_faces``) would pass
    :func:`check_face_vertices`: its rules are per value, so a vertex set that passes
    them as a whole (one ``aminmax``, one ``min`` of z, on ``V`` instead of ``3 F``
    rows) guarantees it.  ``False`` says only "not sure" (an unused vertex may be the
    one that fails): check the gathered faces then, for the error or the pass."""
    if (vertices.dtype not in FLOAT_DTYPES or vertices.dim() != 3 or vertices.shape[-1] != 3
            or vertices.layout != torch.strided or vertices.device.type not in ("cpu", "cuda")
            or vertices.shape[0] < 1 or vertices.shape[1] < 1):
        return False
    if math.prod((vertices.shape[0], num_faces, 3, 3)) > MAX_KERNEL_ELEMENTS:
        return False
    with torch.no_grad():
        lo, hi = (float(t) for t in torch.aminmax(vertices))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return False
        limit = None if max_coordinate is None else max_coordinate[vertices.dtype]
        if limit is not None and max(-lo, hi) > limit:
            return False
        return float(vertices[..., 2].min()) >= MIN_DEPTH


def check_vertices_faces(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """``vertices``: float ``[B, V, 3]``; ``faces``: integer ``[F, 3]`` or ``[B, F, 3]``
    with indices in ``0..V-1``.  Returns faces as int64 on the vertices' device."""
    if not torch.is_tensor(vertices) or not torch.is_tensor(faces):
        raise TypeError("vertices and faces must be torch.Tensors")
    if vertices.dtype not in FLOAT_DTYPES:
        raise TypeError(f"vertices must be float32 or float64, got {vertices.dtype}")
    check_storage("vertices", vertices)
    check_storage("faces", faces)
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
    check_kernel_elements("face_vertices", (vertices.shape[0], faces.shape[-2], 3, 3))
    with torch.no_grad():  # one pass each (NaN and Inf propagate through aminmax)
        lo, hi = (float(t) for t in torch.aminmax(vertices)) if vertices.numel() else (0, 0)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("vertices contain NaN/Inf values")
        nv = vertices.shape[1]
        if faces.numel():
            lo, hi = (int(t) for t in torch.aminmax(faces))
            if lo < 0 or hi >= nv:
                raise IndexError(
                    f"face index out of range: faces reference vertices {lo}..{hi} but there "
                    f"are only {nv} vertices"
                )
    return faces.to(device=vertices.device, dtype=torch.int64)


def check_real(name: str, value, finite: bool = True) -> float:
    """A real number option (Python/numpy number or one-element float tensor) as a
    Python float, finite unless ``finite=False``; bools, strings and arrays are
    refused."""
    if isinstance(value, bool) or (torch.is_tensor(value) and value.dtype == torch.bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if torch.is_tensor(value) and value.numel() != 1:
        raise TypeError(f"{name} must be a number, got a tensor of shape {tuple(value.shape)}")
    if isinstance(value, str | bytes) or not (
            isinstance(value, numbers.Real) or torch.is_tensor(value)
            or (isinstance(value, np.ndarray) and value.size == 1)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if finite and not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


#: Accepted ``sigma`` range (squared normalized screen units; the paper uses 3e-5).
#: Outside it ``1 / sigma`` or the cull radius overflow double precision.
SIGMA_RANGE = (1e-12, 1e3)


def check_sigma(sigma: float) -> float:
    """``sigma``: float in :data:`SIGMA_RANGE` (squared normalized screen units)."""
    s = check_real("sigma", sigma)
    if not (SIGMA_RANGE[0] <= s <= SIGMA_RANGE[1]):
        raise ValueError(f"sigma must lie in [{SIGMA_RANGE[0]:g}, {SIGMA_RANGE[1]:g}] "
                         f"(renderers.validation.SIGMA_RANGE), got {sigma}")
    return s


#: Accepted ``eps`` of the soft renderers (a probability threshold), an open interval:
#: the one statement of it (their ``eps`` options and :func:`check_eps` read it).
EPS_RANGE = (0.0, 0.5)


def check_eps(eps: float) -> float:
    """``eps``: culling threshold on a face's probability, in :data:`EPS_RANGE` (open)."""
    e = check_real("eps", eps)
    if not (EPS_RANGE[0] < e < EPS_RANGE[1]):
        raise ValueError(f"eps must lie in ({EPS_RANGE[0]:g}, {EPS_RANGE[1]:g}), got {eps}")
    return e
