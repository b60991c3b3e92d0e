"""``softras_torch``: Eq. 1 and 2 of the paper in plain dense PyTorch (autograd).

The reference for the Taichi ``softras`` and the naive baseline for timing.  Every
pixel-face pair is evaluated densely (then culled by the same rule as the Taichi
kernel, see :mod:`renderers.soft_math`), in chunks of faces; each chunk runs under
``torch.utils.checkpoint`` so backward memory stays bounded by one chunk.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from .base import Rasterizer, register
from .grid import pixel_grid
from .options import Option
from .soft_math import (
    DEFAULT_EPS,
    DEFAULT_SIGMA,
    EPS_OPTION,
    SIGMA_OPTION,
    SOFTRAS_FORWARD,
    SOFTRAS_PAPER,
    cull_dist2,
    log_one_minus_sigmoid,
    pixel_face_terms,
)
from .validation import check_eps, check_face_vertices, check_sigma


def _chunk_log_sum(fv, px, py, sigma, max_d2):
    d2, inside = pixel_face_terms(px, py, fv)
    keep = inside | (d2 < max_d2)
    z = torch.where(inside, d2, -d2) / sigma
    return torch.where(keep, log_one_minus_sigmoid(z), 0.0).sum(dim=1)  # [B, P]


#: Pixel-face pairs per chunk by default (bounds memory).
DEFAULT_MAX_CHUNK = 1 << 22
MAX_CHUNK_OPTION = Option("max_chunk_elements", int, DEFAULT_MAX_CHUNK,
                          "pixel-face pairs per chunk (bounds memory)", low=1)


@register("softras_torch")
class SoftRasTorch(Rasterizer):
    """Dense PyTorch SoftRas silhouettes.

    ``image_size``: pixels (int or ``(H, W)``); ``sigma`` > 0 in squared normalized
    screen units (paper: 3e-5); ``eps``: culling threshold on D (default 1e-3);
    ``max_chunk_elements``: pixel-face pairs per chunk (bounds memory).
    """

    name = "softras_torch"
    order = 35
    cost_class = "dense"
    slow = True
    tuned_from = "softras"  # numerically the same function
    family = "soft"
    options = (SIGMA_OPTION, EPS_OPTION, MAX_CHUNK_OPTION)
    sharpness = "sigma"
    forward_model = SOFTRAS_FORWARD
    gradient_rule = "exact gradient of the soft forward (PyTorch autograd, dense)"
    paper = SOFTRAS_PAPER
    cost = "dense: every pixel-face pair, B*F*H*W"

    def __init__(self, image_size=64, sigma: float = DEFAULT_SIGMA, eps: float = DEFAULT_EPS,
                 max_chunk_elements: int = DEFAULT_MAX_CHUNK) -> None:
        super().__init__(image_size)
        self.sigma = check_sigma(sigma)
        self.eps = check_eps(eps)
        self.max_chunk_elements = MAX_CHUNK_OPTION.validate(max_chunk_elements)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> soft silhouettes ``[B, H, W]``."""
        check_face_vertices(face_vertices)
        nb, nf = face_vertices.shape[:2]
        h, w = self.height, self.width
        grid = pixel_grid(h, w, face_vertices.dtype, face_vertices.device).reshape(-1, 2)
        px, py = grid[:, 0], grid[:, 1]
        max_d2 = cull_dist2(self.sigma, self.eps)
        total = face_vertices.new_zeros(nb, h * w)
        if nf == 0:  # still on the input's autograd graph (a zero gradient), as the others
            total = total + face_vertices.sum()  # the sum of no values: exactly 0
        chunk = max(1, self.max_chunk_elements // max(1, nb * h * w))
        for f0 in range(0, nf, chunk):
            fv = face_vertices[:, f0:f0 + chunk]
            if fv.requires_grad and torch.is_grad_enabled():
                part = checkpoint(_chunk_log_sum, fv, px, py, self.sigma, max_d2,
                                  use_reentrant=False)
            else:
                part = _chunk_log_sum(fv, px, py, self.sigma, max_d2)
            total = total + part
        return (1.0 - torch.exp(total)).reshape(nb, h, w)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Every pixel-face pair: ``B * F * H * W``."""
        nb, nf = face_vertices.shape[:2]
        return float(nb * nf * self.height * self.width)
