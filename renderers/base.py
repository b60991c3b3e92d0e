"""The renderer interface and its registry.

A renderer (here: a rasterizer of silhouettes) is any class with two methods:

* ``rasterize(face_vertices)``: ``[B, F, 3, 3]`` screen-space face vertices (x, y
  normalized as in :mod:`renderers.grid`, z = camera depth > 0) to silhouettes
  ``[B, H, W]`` in ``[0, 1]``, differentiable w.r.t. ``face_vertices`` (or not, as the
  renderer defines);
* ``render(vertices, faces, camera)``: world vertices ``[B, V, 3]``, int64 faces
  ``[F, 3]`` or ``[B, F, 3]`` and a :class:`renderers.Camera` to silhouettes.

Subclass :class:`Rasterizer` to get ``render`` for free, then ``register`` it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from .camera import Camera
from .grid import image_hw
from .validation import check_vertices_faces


def gather_faces(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Per-face vertices ``[B, F, 3, D]`` from per-vertex values ``[B, V, D]`` (positions,
    D = 3, or colours) and int64 faces ``[F, 3]`` or ``[B, F, 3]`` (differentiable
    w.r.t. ``vertices``)."""
    nb, nd = vertices.shape[0], vertices.shape[-1]
    if faces.dim() == 2:
        return vertices[:, faces]
    idx = faces.reshape(nb, -1, 1).expand(-1, -1, nd)
    return torch.gather(vertices, 1, idx).reshape(nb, faces.shape[1], 3, nd)


class Rasterizer:
    """Base class: holds the image size and implements ``render`` on top of
    ``rasterize``.  ``image_size``: int (square) or ``(H, W)`` in pixels."""

    name = "base"

    def __init__(self, image_size: int | tuple[int, int] = 64) -> None:
        self.image_size = image_size
        self.height, self.width = image_hw(image_size)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def render(self, vertices: torch.Tensor, faces: torch.Tensor, camera: Camera) -> torch.Tensor:
        """Silhouettes ``[B, H, W]`` of world-space meshes seen by ``camera``.

        ``vertices`` ``[B, V, 3]`` (a single ``[V, 3]`` mesh is broadcast to the camera's
        views), ``faces`` int64 ``[F, 3]`` or ``[B, F, 3]``.
        """
        if torch.is_tensor(vertices) and vertices.dim() == 2:
            vertices = vertices.unsqueeze(0)
        faces = check_vertices_faces(vertices, faces)
        screen = camera.project(vertices)
        if faces.dim() == 3 and faces.shape[0] != screen.shape[0]:
            faces = faces.expand(screen.shape[0], -1, -1)
        return self.rasterize(gather_faces(screen, faces))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(image_size={self.image_size})"


_REGISTRY: dict[str, Callable[..., object]] = {}


def register(name: str, factory: Callable[..., object] | None = None):
    """Register a renderer class (or factory) under ``name``; usable as a decorator.

    The class must provide ``rasterize`` and ``render`` (subclass :class:`Rasterizer`).
    """

    def _do(f):
        for method in ("rasterize", "render"):
            if isinstance(f, type) and not callable(getattr(f, method, None)):
                raise TypeError(f"renderer {name!r} must define a {method}() method")
        _REGISTRY[name] = f
        return f

    return _do(factory) if factory is not None else _do


def available() -> list[str]:
    """Names of the registered renderers."""
    return sorted(_REGISTRY)


def accepts_option(name: str, option: str) -> bool:
    """Whether the renderer registered as ``name`` takes the keyword ``option`` (e.g.
    ``"sigma"``: soft renderers do, ``hard`` and ``n3mr`` do not)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown renderer {name!r}; available: {available()}") from None
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - callables without signatures
        return False
    return option in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def get(name: str, **options):
    """A renderer instance by name, with its keyword options (e.g. ``image_size``,
    ``sigma``)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown renderer {name!r}; available: {available()}") from None
    return factory(**options)
