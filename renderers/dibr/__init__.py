"""``dibr``: DIB-R's soft silhouette (Chen et al. 2019), as Kaolin's ``dibr_soft_mask``.

Forward, per pixel centre ``p`` (normalized screen units, :mod:`renderers.grid`):

* ``S(p) = 1`` where a face covers ``p`` (the ``hard`` renderer's z-buffer);
* otherwise ``S(p) = 1 - prod_k (1 - exp(-d_k^2 / sigma))`` over the first
  ``max_faces`` faces, in face order, whose bounding box grown by ``box_margin`` holds
  ``p`` (``xmin <= x < xmax``, ``ymin <= y < ymax``); ``d_k`` is the distance from
  ``p`` to face ``k``'s boundary (the nearest of its three edge segments).

Backward: the exact gradient of that forward w.r.t. the x, y of the faces' vertices
(covered pixels and depth get none), as Kaolin's CUDA backward computes it.

Source: Chen et al. 2019, "Learning to Predict 3D Objects with an Interpolation-based
Differentiable Renderer" (NeurIPS); Kaolin ``kaolin/render/mesh/dibr.py`` and
``kaolin/csrc/render/mesh/dibr_soft_mask_cuda.cu``.  Option mapping from Kaolin:

* ``sigmainv`` (default 7000) -> ``sigma = 1 / sigmainv`` (default 1/7000), the
  sharpness, in squared normalized screen units like ``softras``'s sigma; Kaolin's
  recommended range ``[1/3e-4, 1/3e-5]`` is sigma in ``[3e-5, 3e-4]``;
* ``boxlen`` (default 0.02) -> ``box_margin`` (normalized screen units);
* ``knum`` (default 30) -> ``max_faces``;
* ``multiplier`` (1000, a float32 range trick; it cancels out) -> none: the kernels
  compute in float64.  Kaolin's ``EPS = 1e-7`` in the distance denominators is left out.

Kaolin takes covered pixels from its rasterizer, which draws front faces only; here
faces of either winding cover (as every renderer of this project).
"""

from __future__ import annotations

import torch

from ..base import Rasterizer, register
from ..face_boxes import candidate_pairs
from ..hard import scanned_pixel_count
from ..options import Option
from ..taichi_runtime import kernel_device
from ..validation import SIGMA_RANGE, check_face_vertices, check_sigma
from .function import PairDist2, dibr_soft_mask, selected_pairs

#: Kaolin's default ``sigmainv``; our ``sigma`` is its inverse.
KAOLIN_SIGMAINV = 7000.0
DEFAULT_SIGMA = 1.0 / KAOLIN_SIGMAINV
#: Kaolin's default ``boxlen`` (normalized screen units).
DEFAULT_BOX_MARGIN = 0.02
#: Kaolin's default ``knum``.
DEFAULT_MAX_FACES = 30


@register("dibr")
class DIBRRasterizer(Rasterizer):
    """DIB-R soft silhouettes (module docstring).  ``image_size``: pixels, int or
    ``(H, W)``; ``sigma`` > 0 (= 1 / Kaolin's sigmainv); ``box_margin`` >= 0 (Kaolin's
    boxlen); ``max_faces`` >= 1 (Kaolin's knum)."""

    name = "dibr"
    order = 40
    family = "soft"
    options = (
        Option("sigma", float, DEFAULT_SIGMA,
               "sharpness = 1 / Kaolin's sigmainv; squared normalized screen units",
               low=SIGMA_RANGE[0], high=SIGMA_RANGE[1]),
        Option("box_margin", float, DEFAULT_BOX_MARGIN,
               "Kaolin's boxlen: faces influence pixels in their box grown by this",
               low=0.0),
        Option("max_faces", int, DEFAULT_MAX_FACES,
               "Kaolin's knum: at most this many faces per uncovered pixel", low=1),
    )
    sharpness = "sigma"
    forward_model = ("1 on covered pixels, else 1 - prod_k (1 - exp(-d_k^2 / sigma)) over "
                     "the first max_faces faces whose grown box holds the pixel")
    gradient_rule = "exact gradient of the soft forward on uncovered pixels (Taichi autodiff)"
    paper = ("Chen et al. 2019, Learning to Predict 3D Objects with an Interpolation-based "
             "Differentiable Renderer (NeurIPS); Kaolin dibr_soft_mask")
    cost = "hard scan pixels + candidate pairs in each face's box grown by box_margin"

    def __init__(self, image_size=64, sigma: float = DEFAULT_SIGMA,
                 box_margin: float = DEFAULT_BOX_MARGIN,
                 max_faces: int = DEFAULT_MAX_FACES) -> None:
        super().__init__(image_size)
        self.sigma = check_sigma(sigma)
        self.box_margin = self.check_option("box_margin", box_margin)
        self.max_faces = self.check_option("max_faces", max_faces)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> soft masks ``[B, H, W]`` in [0, 1]
        (input dtype and device)."""
        check_face_vertices(face_vertices)
        return dibr_soft_mask(face_vertices, self.height, self.width, self.sigma,
                              self.box_margin, self.max_faces)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Hard-scan pixels plus the candidate pairs of the grown boxes."""
        check_face_vertices(face_vertices)
        fv = face_vertices.detach().to(kernel_device(face_vertices.device)).contiguous()
        boxes = candidate_pairs(fv, self.height, self.width, self.box_margin)[1].numel()
        return float(scanned_pixel_count(fv, self.height, self.width) + boxes)


__all__ = ["DIBRRasterizer", "PairDist2", "dibr_soft_mask", "selected_pairs"]
