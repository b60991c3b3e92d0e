"""``softras``: Soft Rasterizer silhouettes as Taichi kernels with Taichi autodiff.

Forward is exactly Eq. 1-2 of the paper (see :mod:`renderers.soft_math`): per
pixel-face pair ``D = sigmoid(delta * d^2 / sigma)`` with ``d`` the distance from the
pixel centre to the nearest triangle edge in normalized screen units, and
``S = 1 - prod_f (1 - D_f)``.  Pairs with ``D <= eps`` outside the triangle are culled
(bounding box grown by the cull radius, then a distance test), so the cost grows with
the pairs near each face, not with pixels x faces.

Reproducibility: the per-pixel sums (forward) and per-face gradient sums (backward) are
parallel atomic adds, so their rounding follows the thread order and repeated calls may
differ in the last bits; long optimisations amplify this (see the README, "Seeds and
reproducibility").
"""

from __future__ import annotations

import torch

from ..base import Rasterizer, register
from ..soft_math import (
    DEFAULT_EPS,
    DEFAULT_SIGMA,
    EPS_OPTION,
    SIGMA_OPTION,
    SOFTRAS_FORWARD,
    SOFTRAS_PAPER,
    cull_dist2,
)
from ..taichi_runtime import kernel_device
from ..validation import check_eps, check_face_vertices, check_sigma
from .function import SoftLogSum, candidate_pairs


@register("softras")
class SoftRas(Rasterizer):
    """SoftRas silhouette rasterizer (Taichi).

    ``image_size``: pixels, int or ``(H, W)``; ``sigma`` > 0: sharpness in squared
    normalized screen units (paper: 3e-5); ``eps`` in (0, 0.5): culling threshold on D.
    """

    name = "softras"
    family = "soft"
    options = (SIGMA_OPTION, EPS_OPTION)
    sharpness = "sigma"
    forward_model = SOFTRAS_FORWARD
    gradient_rule = "exact gradient of the soft forward (Taichi reverse-mode autodiff)"
    paper = SOFTRAS_PAPER
    cost = "candidate pairs: pixels in each face's box grown by the cull radius"

    def __init__(self, image_size=64, sigma: float = DEFAULT_SIGMA,
                 eps: float = DEFAULT_EPS) -> None:
        super().__init__(image_size)
        self.sigma = check_sigma(sigma)
        self.eps = check_eps(eps)

    def log_transmittance(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``sum_f log(1 - D_f)`` per pixel, ``[B, H, W]`` (<= 0)."""
        check_face_vertices(face_vertices)
        return SoftLogSum.apply(face_vertices, self.height, self.width, self.sigma,
                                cull_dist2(self.sigma, self.eps))

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> soft silhouettes ``[B, H, W]`` in [0, 1]."""
        return 1.0 - torch.exp(self.log_transmittance(face_vertices))

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Candidate pixel-face pairs (see :attr:`cost`) of ``face_vertices``."""
        check_face_vertices(face_vertices)
        radius = cull_dist2(self.sigma, self.eps) ** 0.5
        fv = face_vertices.detach().to(kernel_device(face_vertices.device)).contiguous()
        return float(candidate_pairs(fv, self.height, self.width, radius)[1].numel())
