"""Flat lists of candidate pixel-face pairs (used by ``dibr``).

Per (image, face), :func:`face_pixel_bounds` finds the pixel rectangle
``[i0, i1) x [j0, j1)`` of the face's screen bounding box grown by a margin (normalized
screen units); :func:`candidate_pairs` turns the rectangles into one flat list of pairs
(a prefix sum of their pixel counts), so that a differentiated kernel can run one flat
parallel loop over pairs, with no inner loop (Taichi's reverse mode needs that).
:func:`edge_terms` is the per-pair geometry: squared distance to an edge and its edge
function.  Kernels compute in float64 (``default_fp``).
"""


import taichi as ti
import torch

from .taichi_grid import column_of, row_of

_INT32_MAX = 2**31 - 1


@ti.kernel
def face_pixel_bounds(fv: ti.types.ndarray(), bounds: ti.types.ndarray(),
                      height: ti.i32, width: ti.i32, radius: ti.f64):
    """``fv`` [B, F, 3, 3] screen space -> ``bounds`` int32 [B, F, 6] =
    ``(i0, i1, j0, j1, count, row_width)``: rows then columns, half-open, clamped to the
    image; ``count`` pixels in the rectangle (0 when empty) and its width (>= 1)."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        xmin = ti.min(fv[b, f, 0, 0], fv[b, f, 1, 0], fv[b, f, 2, 0]) - radius
        xmax = ti.max(fv[b, f, 0, 0], fv[b, f, 1, 0], fv[b, f, 2, 0]) + radius
        ymin = ti.min(fv[b, f, 0, 1], fv[b, f, 1, 1], fv[b, f, 2, 1]) - radius
        ymax = ti.max(fv[b, f, 0, 1], fv[b, f, 1, 1], fv[b, f, 2, 1]) + radius
        # continuous column / row of a screen coordinate (pixel centre at integers),
        # clamped before the integer cast so huge coordinates cannot overflow.
        c0 = ti.math.clamp(column_of(xmin, width), -1.0, width + 1.0)
        c1 = ti.math.clamp(column_of(xmax, width), -1.0, width + 1.0)
        r0 = ti.math.clamp(row_of(ymax, height), -1.0, height + 1.0)
        r1 = ti.math.clamp(row_of(ymin, height), -1.0, height + 1.0)
        bounds[b, f, 0] = ti.max(0, ti.cast(ti.ceil(r0), ti.i32))
        bounds[b, f, 1] = ti.min(height, ti.cast(ti.floor(r1), ti.i32) + 1)
        bounds[b, f, 2] = ti.max(0, ti.cast(ti.ceil(c0), ti.i32))
        bounds[b, f, 3] = ti.min(width, ti.cast(ti.floor(c1), ti.i32) + 1)
        rows = ti.max(0, bounds[b, f, 1] - bounds[b, f, 0])
        cols = ti.max(0, bounds[b, f, 3] - bounds[b, f, 2])
        bounds[b, f, 4] = rows * cols
        bounds[b, f, 5] = ti.max(1, cols)



@ti.func
def edge_terms(px, py, ax, ay, bx, by):
    """Squared distance from (px, py) to segment a-b, and the edge function
    ``cross(b - a, p - a)`` (its sign tells the side)."""
    ex = bx - ax
    ey = by - ay
    qx = px - ax
    qy = py - ay
    len2 = ex * ex + ey * ey
    den = ti.select(len2 > 0, len2, 1.0)
    t = ti.select(len2 > 0, ti.math.clamp((qx * ex + qy * ey) / den, 0.0, 1.0), 0.0)
    rx = qx - t * ex
    ry = qy - t * ey
    return rx * rx + ry * ry, ex * qy - ey * qx


def candidate_pairs(fv: torch.Tensor, height: int, width: int, radius: float):
    """Candidate pixel-face pairs of faces ``fv`` [B, F, 3, 3] (screen space).

    Returns ``(bounds int32 [B, F, 6], pair_face int32 [P], face_offset int32 [B*F])``
    (see :func:`face_pixel_bounds`); ``P`` = pixels in all grown bounding boxes.
    """
    nb, nf = fv.shape[:2]
    bounds = torch.zeros(nb, nf, 6, dtype=torch.int32, device=fv.device)
    face_pixel_bounds(fv, bounds, height, width, radius)
    counts = bounds[..., 4].reshape(-1).to(torch.int64)
    total = int(counts.sum())
    if total > _INT32_MAX:
        raise ValueError(
            f"{total} candidate pixel-face pairs exceed the int32 limit; render fewer images "
            "per batch, smaller images or a smaller sigma"
        )
    offsets = torch.cumsum(counts, 0) - counts
    pair_face = torch.repeat_interleave(
        torch.arange(nb * nf, dtype=torch.int32, device=fv.device), counts, output_size=total
    )
    return bounds, pair_face, offsets.to(torch.int32)
