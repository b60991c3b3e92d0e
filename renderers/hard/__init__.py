"""``hard``: binary silhouettes by point-in-triangle tests at pixel centres.

A pixel is 1 when its centre (:mod:`renderers.grid`) lies inside any face's
screen-space triangle (edges inclusive, either winding, degenerate faces cover
nothing), else 0.  The gradient is the true one of this step function: zero.

Taichi kernels in :mod:`renderers.hard.kernels` (one thread per image and face,
looping over the face's pixel bounding box); the z-buffered variant
:func:`rasterize_nearest_face` also returns the per-pixel nearest face, which
``n3mr`` uses.
"""

from __future__ import annotations

import torch

from ..base import Rasterizer, register
from .function import (
    HardMeshRasterize,
    HardRasterize,
    bbox_pixel_count,
    rasterize_coverage,
    rasterize_nearest_face,
    scanned_pixel_count,
)


@register("hard")
class HardRasterizer(Rasterizer):
    """Hard (0/1) silhouettes with zero gradient.  ``image_size``: pixels, int or
    ``(H, W)``."""

    name = "hard"
    order = 10
    family = "exact"
    options = ()
    sharpness = None
    forward_model = "1 where the pixel centre lies in a face (edges inclusive), else 0"
    gradient_rule = "the true gradient of the step function: zero"
    paper = "baseline (point sampling at pixel centres)"
    cost = ("pixels in each face's bounding box grown by one pixel, each row cut to the "
            "columns its edges can cover")
    zero_gradient = True

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> silhouettes ``[B, H, W]`` in {0, 1}
        (input dtype and device); differentiable with an all-zero gradient."""
        return HardRasterize.apply(face_vertices, self.height, self.width)

    def rasterize_mesh(self, screen_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """:meth:`rasterize` of the gathered faces, bit for bit, its zero gradient given
        to ``screen_vertices`` ``[B, V, 3]`` directly (:class:`HardMeshRasterize`)."""
        return HardMeshRasterize.apply(screen_vertices, faces, self.height, self.width)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Pixels scanned by the kernel (see :attr:`cost`)."""
        return float(scanned_pixel_count(face_vertices, self.height, self.width))


__all__ = ["HardMeshRasterize", "HardRasterize", "HardRasterizer", "bbox_pixel_count",
           "rasterize_coverage", "rasterize_nearest_face", "scanned_pixel_count"]
