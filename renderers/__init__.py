"""Differentiable mesh rasterizers behind one interface.

>>> import renderers
>>> r = renderers.get("softras", image_size=64, sigma=3e-5)
>>> sil = r.rasterize(face_vertices)            # [B, F, 3, 3] screen space -> [B, H, W]
>>> sil = r.render(vertices, faces, renderers.Camera(azimuth=az))

Colour images (the paper's colour reconstruction): ``renderers.render_vertex_colors``.

Conventions: :mod:`renderers.camera` (camera, screen space) and
:mod:`renderers.grid` (pixel grid).
"""

from .base import Rasterizer, accepts_option, available, gather_faces, get, register
from .camera import Camera

# Importing a renderer module registers it.
from . import softras_torch  # noqa: E402,F401  isort: skip
from . import softras  # noqa: E402,F401  isort: skip
from . import hard  # noqa: E402,F401  isort: skip
from . import n3mr  # noqa: E402,F401  isort: skip
from .vertex_colors import interpolate_face_colors, render_vertex_colors  # noqa: E402  isort: skip

__all__ = ["Camera", "Rasterizer", "accepts_option", "available", "gather_faces", "get",
           "interpolate_face_colors", "register", "render_vertex_colors"]
