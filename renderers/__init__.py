"""Differentiable mesh rasterizers behind one interface.

>>> import renderers
>>> r = renderers.build("softras", image_size=64, sharpness=3e-5)
>>> r = renderers.get("softras", image_size=64, sigma=3e-5)   # the same renderer
>>> sil = r.rasterize(face_vertices)            # [B, F, 3, 3] screen space -> [B, H, W]
>>> sil = r.render(vertices, faces, renderers.Camera(azimuth=az))
>>> renderers.describe("softras").sharpness    # "sigma"; None for hard / n3mr
>>> renderers.names(slow=False)                # the default list: a query, in display order

Every renderer describes itself (options, sharpness parameter, family, forward model,
gradient rule, paper, work count): :mod:`renderers.options`.  Optional third-party
renderers (``pytorch3d_soft``, ``mitsuba``) are registered here too, where their
package is installed: :mod:`renderers.peers`.

Colour images (the paper's colour reconstruction): ``renderers.render_vertex_colors``.

Conventions: :mod:`renderers.camera` (camera, screen space) and
:mod:`renderers.grid` (pixel grid).
"""

# Before torch loads its OpenMP runtime: idle OpenMP threads sleep instead of spinning
# (renderers.threads; a no-op where the user set OMP_WAIT_POLICY / KMP_BLOCKTIME).
from . import threads as _threads  # isort: skip

_threads.prefer_passive_wait()

from .base import (  # noqa: E402
    Rasterizer,
    accepts_option,
    available,
    build,
    describe,
    descriptions,
    gather_faces,
    get,
    names,
    register,
)
from .camera import Camera  # noqa: E402
from .options import COST_CLASSES, FAMILIES, Option, RendererInfo  # noqa: E402

# Importing a renderer module registers it.
from . import softras_torch  # noqa: E402,F401  isort: skip
from . import softras  # noqa: E402,F401  isort: skip
from . import hard  # noqa: E402,F401  isort: skip
from . import n3mr  # noqa: E402,F401  isort: skip
from . import dibr  # noqa: E402,F401  isort: skip
from . import antialias  # noqa: E402,F401  isort: skip
from . import edgegrad  # noqa: E402,F401  isort: skip
from .peers import absent_peers, register_peers  # noqa: E402  isort: skip
from .vertex_colors import interpolate_face_colors, render_vertex_colors  # noqa: E402  isort: skip

register_peers()

__all__ = ["COST_CLASSES", "FAMILIES", "Camera", "Option", "Rasterizer", "RendererInfo",
           "absent_peers", "accepts_option", "available", "build", "describe", "descriptions",
           "gather_faces",
           "get", "interpolate_face_colors", "names", "register", "register_peers",
           "render_vertex_colors"]
