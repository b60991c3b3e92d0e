"""Differentiable mesh rasterizers behind one interface.

>>> import renderers
>>> r = renderers.get("softras", image_size=64, sigma=3e-5)
>>> sil = r.rasterize(face_vertices)            # [B, F, 3, 3] screen space -> [B, H, W]
>>> sil = r.render(vertices, faces, renderers.Camera(azimuth=az))

Colour images (the paper's colour reconstruction): ``renderers.render_vertex_colors``.

Conventions: :mod:`renderers.camera` (camera, screen space) and
:mod:`renderers.grid` (pixel grid).
"""

# Before torch loads its OpenMP runtime: idle OpenMP threads sleep instead of spinning
# (renderers.threads; a no-op where the user set OMP_WAIT_POLICY / KMP_BLOCKTIME).
from . import threads as _threads  # isort: skip

_threads.prefer_passive_wait()

from .base import Rasterizer, accepts_option, available, gather_faces, get, register  # noqa: E402,E501
from .camera import Camera  # noqa: E402

# Importing a renderer module registers it.
from . import softras_torch  # noqa: E402,F401  isort: skip
from . import softras  # noqa: E402,F401  isort: skip
from . import hard  # noqa: E402,F401  isort: skip
from . import n3mr  # noqa: E402,F401  isort: skip
from .vertex_colors import interpolate_face_colors, render_vertex_colors  # noqa: E402  isort: skip

__all__ = ["Camera", "Rasterizer", "accepts_option", "available", "gather_faces", "get",
           "interpolate_face_colors", "register", "render_vertex_colors"]
