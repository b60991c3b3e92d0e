"""``n3mr``: the Neural 3D Mesh Renderer's silhouettes (Kato et al. 2018, Sec. 3.3).

Forward: the ``hard`` renderer's binary silhouette (identical values), computed with
a z-buffer that also records, per pixel, the nearest covering face (perspective-correct
depth, ties to the lower face index).  No anti-aliasing (the official code's default
2x supersampling is left out so that forward = ``hard``).

Backward (the approximate gradient, alpha/silhouette case).  For every face, each
of its three edges a -> b and each axis (x, y): scan the edge one pixel line at a time
(columns to move vertices along y, rows to move them along x); on each line the
edge crosses at ``vc`` between the pixel just inside the face (``in``) and just
outside it (``out``).  Moving endpoint a (weight ``t_a`` of a at that line) by
``dist = (v - vc) / t_a`` (pixels, then screen units) brings the edge onto pixel
``v``'s centre, flipping that pixel:

* out: if the face owns ``in`` (z-buffer), each pixel from ``out`` to the image border
  would become ``alpha[in]``;
* in: each pixel from ``in`` inwards that the face owns would become ``alpha[out]``
  (the approximation: what is uncovered looks like the pixel beyond the edge).

With ``g = dL/d alpha`` the flip changes the loss by ``dL = g[v] (new - alpha[v])``;
it counts only when ``dL < 0`` and then adds ``dL / (dist + eps*sign(dist))`` to
``dL/d a`` (likewise b).  ``eps`` (default 1e-3 screen units, as in Kato's chainer
code) keeps a pixel centre on the edge finite.  z gets no gradient.

Mapping from the official code (``rasterize_cuda_kernel.cu``, backward_pixel_map):
it works on square images in an internal pixel frame with row index
``0.5 * (y * is + is - 1)`` (row 0 at y = -1, bottom) and flips the image vertically
afterwards; here rows are ``(H - 1 - y * H) / 2`` (row 0 at y = +1, top, see
:mod:`renderers.grid`) and columns ``(x * W + W - 1) / 2``, with H != W allowed.  A
displacement of ``d`` rows is therefore ``-2 d / H`` in screen y and ``d`` columns is
``2 d / W`` in screen x (the official ``2 / is`` with the sign of the flip folded in).
The official code culls back faces and derives the outward side from the winding;
here faces of either winding render, so the outward side of an edge is the side away
from the face's third vertex, and the z-buffer (not the winding) decides which face
owns a pixel.  Pixels exactly at the crossing (``v == vc``, in-branch) use the inward
direction for the sign of ``eps``.  The in-branch scans up to the face's bounding box
instead of the opposite edge's crossing: the same pixels, as only pixels the face owns
count.  Each edge is scanned from its endpoint with the smaller scan coordinate, so
both windings of a face give bit-identical gradients.
"""

from __future__ import annotations

import torch

from ..base import Rasterizer, register
from ..hard import scanned_pixel_count
from .function import (
    DEFAULT_EPS,
    EPS_OPTION,
    N3MRRasterize,
    approximate_gradient,
    check_displacement_eps,
)


@register("n3mr")
class N3MRRasterizer(Rasterizer):
    """N3MR silhouettes: hard forward, Kato et al.'s approximate backward.

    ``image_size``: pixels, int or ``(H, W)``; ``eps`` > 0: screen units added to every
    vertex displacement in the backward (default 1e-3).
    """

    name = "n3mr"
    order = 20
    family = "approximate"
    options = (EPS_OPTION,)
    sharpness = None
    forward_model = "hard silhouette (z-buffered point sampling at pixel centres)"
    gradient_rule = ("per edge and pixel line: loss change of flipping a pixel divided by "
                     "the vertex displacement that flips it (descent directions only)")
    paper = "Kato et al. 2018, Neural 3D Mesh Renderer (CVPR), Sec. 3.3"
    cost = ("pixels in each face's bounding box grown by one pixel, each row cut to the "
            "columns its edges can cover (forward scan)")

    def __init__(self, image_size: int | tuple[int, int] = 64, eps: float = DEFAULT_EPS) -> None:
        super().__init__(image_size)
        self.eps = check_displacement_eps(eps)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> silhouettes ``[B, H, W]`` in {0, 1}
        (input dtype and device), differentiable w.r.t. x, y of ``face_vertices``."""
        return N3MRRasterize.apply(face_vertices, self.height, self.width, self.eps)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Pixels scanned by the forward kernel (see :attr:`cost`)."""
        return float(scanned_pixel_count(face_vertices, self.height, self.width))


__all__ = ["DEFAULT_EPS", "N3MRRasterize", "N3MRRasterizer", "approximate_gradient"]
