"""``antialias``: nvdiffrast's analytic antialiasing of the hard silhouette (Laine et al.
2020, the ``antialias`` op).

Forward: the ``hard`` silhouette (z-buffered), then for every pair of neighbouring pixel
centres (horizontal and vertical) whose coverage differs, the silhouette edge of the
covered pixel's face that crosses the segment between the two centres is found; with
``dc`` in [0, 1] the crossing's distance from the covered centre (pixels, along the
pair), the pixel nearer to the edge is blended by ``alpha = 0.5 - dc``:
``S[covered] -= 0.5 - dc`` when ``dc < 0.5``, else ``S[empty] += dc - 0.5``.  An edge
counts when it is a silhouette edge (the face across it, found by shared vertex
positions, lies on the same side, or there is none: nvdiffrast's "wing" test), when it
is steeper than 45 degrees to the pair (``|dy| >= |dx|``; flatter edges are handled by
the other direction), and when ``dc`` lies in ``(-1/16, 1 + 1/16)`` (then clamped).

Backward: ``dL/d crossing = -g[blended pixel] * (c_other - c_covered)`` chained to the
edge's two vertices through the crossing point ``x_c = (x1 y2 - x2 y1) / (y2 - y1)``,
with nvdiffrast's ``1 / (dy +- 1e-3)`` and no gradient when ``|alpha| >= 0.5``.

Source: Laine et al. 2020, "Modular Primitives for High-Performance Differentiable
Rendering" (SIGGRAPH Asia); nvdiffrast ``common/antialias.cu`` (forward analysis and
gradient kernels).  Differences, all for this project's interface: the input is
screen-space ``[B, F, 3, 3]`` (no clip-space w: the gradient goes to screen x, y, and
the camera's projection carries it on); faces of either winding render; mesh topology
comes from equal vertex positions, not a triangle index buffer; the output is clamped
to [0, 1] (only a pixel blended from several sides can leave it).  ``render`` finds the
same adjacency from the face indices once per topology (cached) when no two vertices of
an image share a position, where both rules agree; otherwise it matches positions.
"""

from __future__ import annotations

import torch

from ..base import Rasterizer, gather_faces, register
from ..hard import scanned_pixel_count
from ..taichi_runtime import kernel_device
from ..validation import check_face_vertices
from .function import AntialiasMeshRasterize, AntialiasRasterize, mesh_wings, wing_vertices


@register("antialias")
class AntialiasRasterizer(Rasterizer):
    """Hard silhouettes antialiased at silhouette edges as nvdiffrast does (module
    docstring).  ``image_size``: pixels, int or ``(H, W)``; no other options."""

    name = "antialias"
    order = 50
    family = "approximate"
    options = ()
    sharpness = None
    forward_model = ("hard silhouette, then pixel pairs across a silhouette edge blended "
                     "by where the edge crosses the segment between their centres")
    gradient_rule = ("analytic derivative of the blend w.r.t. the edge's crossing point, "
                     "chained to the edge's two vertices")
    paper = ("Laine et al. 2020, Modular Primitives for High-Performance Differentiable "
             "Rendering (SIGGRAPH Asia); nvdiffrast antialias op")
    cost = "hard scan pixels + 2 neighbour pairs per pixel (B*H*W*2)"

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> silhouettes ``[B, H, W]`` in [0, 1]
        (input dtype and device), differentiable w.r.t. x, y of ``face_vertices``."""
        check_face_vertices(face_vertices)
        return AntialiasRasterize.apply(face_vertices, self.height, self.width).clamp(0, 1)

    def rasterize_mesh(self, screen_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """:meth:`rasterize` of the gathered faces, bit for bit, with the wing vertices
        from the cached adjacency of ``faces`` ``[F, 3]`` (:func:`mesh_wings`) instead of
        a sort of every face vertex's position per call; on the CPU the backward's
        kernel adds the gradient into ``screen_vertices`` ``[B, V, 3]`` itself
        (:class:`AntialiasMeshRasterize`)."""
        if (faces.dim() == 2 and faces.shape[0] and screen_vertices.device.type == "cpu"
                and kernel_device(screen_vertices.device).type == "cpu"):
            wings = mesh_wings(screen_vertices, faces)
            return AntialiasMeshRasterize.apply(screen_vertices, faces, self.height,
                                                self.width, wings).clamp(0, 1)
        face_vertices = gather_faces(screen_vertices, faces)
        check_face_vertices(face_vertices)
        wings = mesh_wings(screen_vertices, faces) if faces.dim() == 2 else None
        return AntialiasRasterize.apply(face_vertices, self.height, self.width,
                                        wings).clamp(0, 1)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Hard-scan pixels plus the two neighbour pairs of every pixel."""
        nb = face_vertices.shape[0]
        return float(scanned_pixel_count(face_vertices, self.height, self.width)
                     + 2 * nb * self.height * self.width)


__all__ = ["AntialiasMeshRasterize", "AntialiasRasterize", "AntialiasRasterizer", "mesh_wings",
           "wing_vertices"]
