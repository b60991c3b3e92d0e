"""Eq. 1 and 2 of the paper, shared by the dense PyTorch reference and documented
for the Taichi kernels (which implement the same formulas).

For pixel centre ``p`` and face ``f`` (screen space, normalized units):

* ``d^2``: squared distance from ``p`` to the nearest of the three edges (segments);
* ``delta = +1`` if ``p`` lies inside the triangle (edges inclusive, either winding;
  degenerate triangles have no inside), else ``-1``;
* ``z = delta * d^2 / sigma`` and ``D = sigmoid(z)`` (Eq. 1);
* ``S = 1 - prod_f (1 - D_f)`` (Eq. 2), computed as ``1 - exp(sum_f log(1 - D_f))``
  with the overflow-free ``log(1 - sigmoid(z)) = -(max(z, 0) + log(1 + exp(-|z|)))``.

Culling: a pair contributes only if ``p`` is inside or ``D > eps``, i.e.
``d^2 < sigma * log(1/eps - 1)``; pairs outside contribute exactly 0.  With the
default ``eps = 1e-3`` the largest dropped contribution to ``S`` is below 1e-3 per face.
"""

from __future__ import annotations

import math

import torch

from .options import Option

#: Default culling threshold on a face's probability D (see module docstring).
DEFAULT_EPS = 1e-3
#: The paper's sigma (squared normalized screen units).
DEFAULT_SIGMA = 3e-5

#: The ``sigma`` option of the soft renderers (their sharpness parameter).
SIGMA_OPTION = Option("sigma", float, DEFAULT_SIGMA,
                      "sharpness: squared normalized screen units; smaller is sharper",
                      low=0.0, low_open=True)
#: The ``eps`` option of the soft renderers (culling threshold on D).
EPS_OPTION = Option("eps", float, DEFAULT_EPS,
                    "pairs outside a face with probability D <= eps are culled",
                    low=0.0, high=0.5, low_open=True, high_open=True)

SOFTRAS_PAPER = ("Liu et al. 2019, Soft Rasterizer: A Differentiable Renderer for "
                 "Image-based 3D Reasoning (ICCV)")
SOFTRAS_FORWARD = "S = 1 - prod_f (1 - sigmoid(delta d^2 / sigma)) (Eq. 1-2)"


def cull_dist2(sigma: float, eps: float = DEFAULT_EPS) -> float:
    """Squared distance (normalized screen units) beyond which outside pairs are culled."""
    return sigma * math.log(1.0 / eps - 1.0)


def log_one_minus_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """``log(1 - sigmoid(z))`` without overflow, elementwise."""
    return -(torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs())))


def pixel_face_terms(px: torch.Tensor, py: torch.Tensor, fv: torch.Tensor):
    """Signed geometry of pixels vs faces.

    ``px, py``: ``[P]`` pixel centres; ``fv``: ``[B, F, 3, 3]`` screen-space faces.
    Returns ``(dist2 [B, F, P], inside [B, F, P] bool)``.
    """
    x = fv[..., 0].unsqueeze(-1)  # [B, F, 3, 1]
    y = fv[..., 1].unsqueeze(-1)
    d2 = None
    edge = []
    for k in range(3):
        ax, ay = x[:, :, k], y[:, :, k]
        bx, by = x[:, :, (k + 1) % 3], y[:, :, (k + 1) % 3]
        ex, ey = bx - ax, by - ay
        len2 = ex * ex + ey * ey
        qx, qy = px - ax, py - ay
        t = torch.where(len2 > 0, (qx * ex + qy * ey) / torch.where(len2 > 0, len2, 1.0), 0.0)
        t = t.clamp(0.0, 1.0)
        rx, ry = qx - t * ex, qy - t * ey
        dk = rx * rx + ry * ry
        d2 = dk if d2 is None else torch.minimum(d2, dk)
        edge.append(ex * qy - ey * qx)  # cross(b - a, p - a)
    area2 = (x[:, :, 1] - x[:, :, 0]) * (y[:, :, 2] - y[:, :, 0]) - (
        x[:, :, 2] - x[:, :, 0]
    ) * (y[:, :, 1] - y[:, :, 0])
    pos = (edge[0] >= 0) & (edge[1] >= 0) & (edge[2] >= 0)
    neg = (edge[0] <= 0) & (edge[1] <= 0) & (edge[2] <= 0)
    inside = (pos | neg) & (area2 != 0)
    return d2, inside
