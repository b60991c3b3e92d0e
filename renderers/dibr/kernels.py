"""Taichi kernels of the DIB-R soft mask (Kaolin's ``dibr_soft_mask``).

1. :func:`pair_pixels` (not differentiated): for each candidate pixel-face pair (a
   face's bounding box grown by ``margin``, listed by
   :func:`renderers.face_boxes.candidate_pairs`), the flat pixel index
   ``(b * H + i) * W + j`` and whether the pixel centre lies in the grown box as Kaolin
   tests it: ``xmin <= x < xmax`` and ``ymin <= y < ymax`` (half-open).
2. :func:`pair_dist2` (differentiated by Taichi autodiff, ``kernel.grad``): one flat
   parallel loop over the kept pairs writing the squared distance from the pixel centre
   to the face's boundary (nearest of its three edge segments), normalized screen units.

Kernels take torch tensors directly, compute in float64 and store in the tensor's dtype.
"""

import taichi as ti

from ..face_boxes import edge_terms
from ..taichi_grid import pixel_x, pixel_y


@ti.kernel
def pair_pixels(fv: ti.types.ndarray(), bounds: ti.types.ndarray(),
                pair_face: ti.types.ndarray(), face_offset: ti.types.ndarray(),
                margin: ti.f64, height: ti.i32, width: ti.i32,
                pixel: ti.types.ndarray(), inside_box: ti.types.ndarray()):
    """``pixel`` int32 [P] flat pixel index of each candidate pair; ``inside_box`` int32
    [P]: 1 when the pixel centre lies in the face's box grown by ``margin`` (Kaolin's
    half-open test), else 0.  ``bounds`` / ``pair_face`` / ``face_offset`` as in
    :func:`renderers.softras.kernels.soft_log_sum`."""
    for p in range(pair_face.shape[0]):
        bf = pair_face[p]
        b = bf // fv.shape[1]
        f = bf % fv.shape[1]
        k = p - face_offset[bf]
        i = bounds[b, f, 0] + k // bounds[b, f, 5]
        j = bounds[b, f, 2] + k % bounds[b, f, 5]
        px = pixel_x(j, width)
        py = pixel_y(i, height)
        xmin = ti.min(fv[b, f, 0, 0], fv[b, f, 1, 0], fv[b, f, 2, 0]) - margin
        xmax = ti.max(fv[b, f, 0, 0], fv[b, f, 1, 0], fv[b, f, 2, 0]) + margin
        ymin = ti.min(fv[b, f, 0, 1], fv[b, f, 1, 1], fv[b, f, 2, 1]) - margin
        ymax = ti.max(fv[b, f, 0, 1], fv[b, f, 1, 1], fv[b, f, 2, 1]) + margin
        pixel[p] = (b * height + i) * width + j
        inside_box[p] = ti.select(px >= xmin and px < xmax and py >= ymin and py < ymax, 1, 0)


@ti.kernel
def pair_dist2(fv: ti.types.ndarray(), pair_face: ti.types.ndarray(),
               pixel: ti.types.ndarray(), height: ti.i32, width: ti.i32,
               dist2: ti.types.ndarray()):
    """``dist2[p]`` = squared distance from pair ``p``'s pixel centre to the nearest edge
    segment of its face (Kaolin: min of the perpendicular distances whose foot lies on
    the edge and the three vertex distances, the same number).  ``pair_face`` int32 [P]
    flat face ``b * F + f``; ``pixel`` int32 [P] flat pixel ``(b * H + i) * W + j``.
    One flat loop, no inner loop: safe for Taichi's reverse mode."""
    for p in range(pair_face.shape[0]):
        bf = pair_face[p]
        b = bf // fv.shape[1]
        f = bf % fv.shape[1]
        q = pixel[p] % (height * width)
        px = pixel_x(q % width, width)
        py = pixel_y(q // width, height)
        d0, _w0 = edge_terms(px, py, fv[b, f, 0, 0], fv[b, f, 0, 1], fv[b, f, 1, 0],
                             fv[b, f, 1, 1])
        d1, _w1 = edge_terms(px, py, fv[b, f, 1, 0], fv[b, f, 1, 1], fv[b, f, 2, 0],
                             fv[b, f, 2, 1])
        d2, _w2 = edge_terms(px, py, fv[b, f, 2, 0], fv[b, f, 2, 1], fv[b, f, 0, 0],
                             fv[b, f, 0, 1])
        dist2[p] = ti.min(d0, d1, d2)
