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

Precision: the geometry is evaluated relative to each edge's line, never in absolute
coordinates.  :func:`edge_lines` turns every edge into a unit normal, an offset and two
tangential offsets, in float64 (cheap: per face); per pixel-face pair only
``n.p + c``-style terms remain, with ``|p| <= ~1.5``.  Where a line passes near the
screen its offset is small, so these terms are accurate even in float32 (a vertex at
1e7 included); where it passes far away the pair is culled or deep inside either way.
Absolute edge functions ``cross(b - a, p - a)`` in float32 would instead cancel
catastrophically with one far vertex.
"""

from __future__ import annotations

import math

import torch

from .options import Option
from .validation import EPS_RANGE, SIGMA_RANGE

#: Default culling threshold on a face's probability D (see module docstring).
DEFAULT_EPS = 1e-3
#: The paper's sigma (squared normalized screen units).
DEFAULT_SIGMA = 3e-5

#: The ``sigma`` option of the soft renderers (their sharpness parameter).
SIGMA_OPTION = Option("sigma", float, DEFAULT_SIGMA,
                      "sharpness: squared normalized screen units; smaller is sharper",
                      low=SIGMA_RANGE[0], high=SIGMA_RANGE[1])
#: The ``eps`` option of the soft renderers (culling threshold on D).
EPS_OPTION = Option("eps", float, DEFAULT_EPS,
                    "pairs outside a face with probability D <= eps are culled",
                    low=EPS_RANGE[0], high=EPS_RANGE[1], low_open=True, high_open=True)

SOFTRAS_PAPER = ("Liu et al. 2019, Soft Rasterizer: A Differentiable Renderer for "
                 "Image-based 3D Reasoning (ICCV)")
SOFTRAS_FORWARD = "S = 1 - prod_f (1 - sigmoid(delta d^2 / sigma)) (Eq. 1-2)"


#: Bound on the line offsets ``c, w_a, w_b`` of :func:`edge_lines` (normalized screen
#: units): a line that far from the screen is culled or deep inside either way, and
#: squares of the bound stay finite in float32.
LINE_OFFSET_LIMIT = 1e12


def cull_dist2(sigma: float, eps: float = DEFAULT_EPS) -> float:
    """Squared distance (normalized screen units) beyond which outside pairs are culled."""
    return sigma * math.log(1.0 / eps - 1.0)


def log_one_minus_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """``log(1 - sigmoid(z))`` without overflow, elementwise."""
    return -(torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs())))


def edge_lines(fv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-face edge lines, computed in float64 from ``fv`` ``[B, F, 3, 3]`` (any float
    dtype; only x, y are used).

    Edge ``k`` runs from ``a = v_k`` to ``b = v_{k+1 mod 3}``.  With ``L = |b - a|``,
    unit normal ``n = (-e_y, e_x) / L`` (left of a -> b; ``(1, 0)`` when ``L = 0``) and
    unit tangent ``u = (n_y, -n_x)``, the returned ``lines [B, F, 3, 5]`` float64 hold
    ``(n_x, n_y, c, w_a, w_b)`` with ``c = -n.a``, ``w_a = -u.a``, ``w_b = -u.b``, each
    offset clamped to ``+-LINE_OFFSET_LIMIT``.  ``solid [B, F]`` bool: twice the signed
    area ``cross(v1 - v0, v2 - v0)`` is nonzero (degenerate faces have no inside).
    """
    xy = fv[..., :2].to(torch.float64)
    a = xy
    b = xy.roll(-1, dims=-2)
    ex, ey = (b - a).unbind(-1)
    len2 = ex * ex + ey * ey
    pos = len2 > 0
    inv_len = torch.where(pos, 1.0 / torch.sqrt(torch.where(pos, len2, 1.0)), 0.0)
    nx = torch.where(pos, -ey * inv_len, 1.0)
    ny = torch.where(pos, ex * inv_len, 0.0)
    ax, ay = a.unbind(-1)
    bx, by = b.unbind(-1)
    lim = LINE_OFFSET_LIMIT
    c = (-(nx * ax + ny * ay)).clamp(-lim, lim)
    wa = (-(ny * ax - nx * ay)).clamp(-lim, lim)
    wb = (-(ny * bx - nx * by)).clamp(-lim, lim)
    x, y = xy[..., 0], xy[..., 1]
    area2 = (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (
        x[..., 2] - x[..., 0]
    ) * (y[..., 1] - y[..., 0])
    return torch.stack([nx, ny, c, wa, wb], dim=-1), area2 != 0


def pixel_face_terms(px: torch.Tensor, py: torch.Tensor, fv: torch.Tensor):
    """Signed geometry of pixels vs faces, relative to each edge's line.

    ``px, py``: ``[P]`` pixel centres; ``fv``: ``[B, F, 3, 3]`` screen-space faces.
    Returns ``(dist2 [B, F, P], inside [B, F, P] bool)`` in ``fv``'s dtype: the lines of
    :func:`edge_lines` (float64) are rounded to that dtype, then per pair
    ``s = n.p + c`` (signed distance to the line), ``t_a = u.p + w_a`` and
    ``t_b = u.p + w_b`` (position along the edge from a and from b) give
    ``d_k^2 = s^2 + (min(t_a, 0) + max(t_b, 0))^2``.
    """
    lines, solid = edge_lines(fv)
    lines = lines.to(fv.dtype).unsqueeze(-2)  # [B, F, 3, 1, 5]
    nx, ny, c, wa, wb = lines.unbind(-1)  # [B, F, 3, 1] each
    s = nx * px + ny * py + c  # [B, F, 3, P]
    tu = ny * px - nx * py
    e = (tu + wa).clamp(max=0) + (tu + wb).clamp(min=0)
    d2 = (s * s + e * e).amin(dim=2)
    pos = (s >= 0).all(dim=2)
    neg = (s <= 0).all(dim=2)
    inside = (pos | neg) & solid.unsqueeze(-1)
    return d2, inside
