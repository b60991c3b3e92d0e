"""Flat lists of candidate pixel-face pairs (used by ``dibr``).

Per (image, face), :func:`face_pixel_bounds` finds the pixel rectangle
``[i0, i1) x [j0, j1)`` of the face's screen bounding box grown by a margin (normalized
screen units; the one rule of :func:`renderers.taichi_grid.pixel_box`);
:func:`candidate_pairs` turns the rectangles into one flat list of pairs (a prefix sum
of their pixel counts, :func:`pair_offsets`), so that a differentiated kernel can run one flat
parallel loop over pairs, with no inner loop (Taichi's reverse mode needs that).
:func:`edge_terms` is the per-pair geometry: squared distance to an edge and its edge
function.  :func:`box_pixel_count` counts the pixels of every face's box (the pairs a
renderer that loops over boxes evaluates).  Kernels compute in float64 (``default_fp``).
"""


import taichi as ti
import torch

from .taichi_grid import face_pixel_box
from .taichi_runtime import kernel_device

_INT32_MAX = 2**31 - 1


@ti.kernel
def face_pixel_bounds(fv: ti.types.ndarray(), bounds: ti.types.ndarray(),
                      height: ti.i32, width: ti.i32, radius: ti.f64):
    """``fv`` [B, F, 3, 3] screen space -> ``bounds`` int32 [B, F, 6] =
    ``(i0, i1, j0, j1, count, row_width)``: rows then columns, half-open, clamped to the
    image; ``count`` pixels in the rectangle (0 when empty) and its width (>= 1)."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        i0, i1, j0, j1 = face_pixel_box(fv, b, f, radius, 0, height, width)
        bounds[b, f, 0] = i0
        bounds[b, f, 1] = i1
        bounds[b, f, 2] = j0
        bounds[b, f, 3] = j1
        rows = ti.max(0, bounds[b, f, 1] - bounds[b, f, 0])
        cols = ti.max(0, bounds[b, f, 3] - bounds[b, f, 2])
        bounds[b, f, 4] = rows * cols
        bounds[b, f, 5] = ti.max(1, cols)


@ti.kernel
def box_pixel_counts(fv: ti.types.ndarray(), counts: ti.types.ndarray(), radius: ti.f64,
                     slack: ti.i32, height: ti.i32, width: ti.i32):
    """``counts`` int64 [B, F]: pixels in each face's box
    (:func:`renderers.taichi_grid.pixel_box` with ``radius`` and ``slack``)."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        i0, i1, j0, j1 = face_pixel_box(fv, b, f, radius, slack, height, width)
        counts[b, f] = ti.cast(ti.max(0, i1 - i0) * ti.max(0, j1 - j0), ti.i64)


def box_pixel_count(face_vertices: torch.Tensor, height: int, width: int, radius: float,
                    slack: int = 0) -> int:
    """Pixels in the boxes of all faces ``face_vertices`` [B, F, 3, 3] (screen space):
    each face's bounding box grown by ``radius`` (normalized screen units) and ``slack``
    whole pixels, clamped to the image (:func:`renderers.taichi_grid.pixel_box`)."""
    fv = face_vertices.detach().to(kernel_device(face_vertices.device)).contiguous()
    counts = torch.zeros(fv.shape[:2], dtype=torch.int64, device=fv.device)
    if fv.shape[1]:
        box_pixel_counts(fv, counts, float(radius), int(slack), height, width)
    return int(counts.sum())


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


def pair_offsets(fv: torch.Tensor, height: int, width: int, radius: float):
    """The pair list of :func:`candidate_pairs` without the per-pair face column:
    ``(bounds int32 [B, F, 6], counts int64 [B*F], offsets int64 [B*F], total)``, face
    ``b * F + f``'s pairs being ``offsets[bf] .. offsets[bf] + counts[bf] - 1``.
    ``ValueError`` when ``total`` exceeds the int32 limit."""
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
    return bounds, counts, torch.cumsum(counts, 0) - counts, total


def candidate_pairs(fv: torch.Tensor, height: int, width: int, radius: float):
    """Candidate pixel-face pairs of faces ``fv`` [B, F, 3, 3] (screen space).

    Returns ``(bounds int32 [B, F, 6], pair_face int32 [P], face_offset int32 [B*F])``
    (see :func:`face_pixel_bounds`); ``P`` = pixels in all grown bounding boxes.
    """
    nb, nf = fv.shape[:2]
    bounds, counts, offsets, total = pair_offsets(fv, height, width, radius)
    pair_face = torch.repeat_interleave(
        torch.arange(nb * nf, dtype=torch.int32, device=fv.device), counts, output_size=total
    )
    return bounds, pair_face, offsets.to(torch.int32)
