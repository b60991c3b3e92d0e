"""Taichi kernels of the DIB-R soft mask (Kaolin's ``dibr_soft_mask``).

1. :func:`pair_pixels` (not differentiated): for each candidate pixel-face pair (a
   face's bounding box grown by ``margin``, numbered by
   :func:`renderers.face_boxes.pair_offsets`; one thread per face), the flat pixel index
   ``(b * H + i) * W + j`` and whether to keep the pair: the pixel centre lies in the
   grown box as Kaolin tests it (``xmin <= x < xmax`` and ``ymin <= y < ymax``,
   half-open) and no face covers the pixel.
2. :func:`pair_dist2` (differentiated by Taichi autodiff, ``kernel.grad``): one flat
   parallel loop over the kept pairs writing the squared distance from the pixel centre
   to the face's boundary (nearest of its three edge segments), normalized screen units;
   each pair reads its own copy of its face's coordinates, so the reverse-mode kernel
   writes each pair's gradient to its own row;
3. :func:`sum_pair_grads`: those rows summed per face in a fixed order (one thread per
   face).  No two threads add into one address anywhere, so the gradient is
   bit-reproducible on the CPU, whatever the thread count (issue 23: Taichi's reverse
   mode turned the shared face reads into atomic adds, whose rounding followed the
   thread order).

Kernels take torch tensors directly, compute in float64 and store in the tensor's dtype.
"""

import taichi as ti

from ..face_boxes import edge_terms
from ..taichi_grid import pixel_x, pixel_y


@ti.kernel
def pair_pixels(fv: ti.types.ndarray(), bounds: ti.types.ndarray(),
                face_offset: ti.types.ndarray(), margin: ti.f64, height: ti.i32,
                width: ti.i32, covered: ti.types.ndarray(), pixel: ti.types.ndarray(),
                keep: ti.types.ndarray(), kept: ti.types.ndarray()):
    """One thread per (image, face), looping over its grown box's pixels: pair
    ``p = face_offset[b * F + f] + k`` (``k``-th pixel of the box, row-major) gets
    ``pixel`` int32 [P], its flat pixel index, and ``keep`` int32 [P]: 1 when the pixel
    centre lies in the face's box grown by ``margin`` (Kaolin's half-open test) and the
    pixel is not covered (``covered`` uint8 [B * H * W], nonzero = covered by a face),
    else 0; ``kept`` int64 [B * F]: per face, its pairs with ``keep`` 1.  ``bounds`` /
    ``face_offset`` from :func:`renderers.face_boxes.pair_offsets`."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        base = face_offset[b * fv.shape[1] + f]
        xmin = ti.min(fv[b, f, 0, 0], fv[b, f, 1, 0], fv[b, f, 2, 0]) - margin
        xmax = ti.max(fv[b, f, 0, 0], fv[b, f, 1, 0], fv[b, f, 2, 0]) + margin
        ymin = ti.min(fv[b, f, 0, 1], fv[b, f, 1, 1], fv[b, f, 2, 1]) - margin
        ymax = ti.max(fv[b, f, 0, 1], fv[b, f, 1, 1], fv[b, f, 2, 1]) + margin
        n_kept = 0
        for k in range(bounds[b, f, 4]):
            i = bounds[b, f, 0] + k // bounds[b, f, 5]
            j = bounds[b, f, 2] + k % bounds[b, f, 5]
            px = pixel_x(j, width)
            py = pixel_y(i, height)
            flat = (b * height + i) * width + j
            pixel[base + k] = flat
            inside = px >= xmin and px < xmax and py >= ymin and py < ymax
            keep[base + k] = ti.select(inside and covered[flat] == 0, 1, 0)
            n_kept += keep[base + k]
        kept[b * fv.shape[1] + f] = ti.cast(n_kept, ti.i64)


@ti.kernel
def compact_pairs(face_offset: ti.types.ndarray(), count: ti.types.ndarray(),
                  kept_offset: ti.types.ndarray(), pixel: ti.types.ndarray(),
                  keep: ti.types.ndarray(), kept_pixel: ti.types.ndarray(),
                  kept_face: ti.types.ndarray()):
    """The kept pairs of :func:`pair_pixels`, in their order: face ``bf``'s pairs
    ``face_offset[bf] .. + count[bf] - 1`` (int64 [B * F]) with ``keep`` 1 go to
    ``kept_offset[bf]`` on (int64 [B * F], the prefix sum of ``pair_pixels``' ``kept``),
    writing ``kept_pixel`` int32 (their flat pixel) and ``kept_face`` int32 (``bf``):
    ``torch.nonzero(keep)`` and the owning face of each, in one pass per face."""
    for bf in range(face_offset.shape[0]):
        q = kept_offset[bf]
        for p in range(face_offset[bf], face_offset[bf] + count[bf]):
            if keep[p] != 0:
                kept_pixel[q] = pixel[p]
                kept_face[q] = bf
                q += 1


@ti.kernel
def pair_dist2(coords: ti.types.ndarray(), pixel: ti.types.ndarray(), height: ti.i32,
               width: ti.i32, dist2: ti.types.ndarray()):
    """``dist2[p]`` = squared distance from pair ``p``'s pixel centre to the nearest edge
    segment of its face (Kaolin: min of the perpendicular distances whose foot lies on
    the edge and the three vertex distances, the same number).  ``coords`` [P, 6] the
    pair's face ``(x0, y0, x1, y1, x2, y2)`` (screen space; one row per pair, so the
    reverse-mode kernel, ``pair_dist2.grad``, adds each pair's gradient into its own
    row only: no two threads share an address, and the result does not depend on the
    thread order); ``pixel`` int32 [P] flat pixel ``(b * H + i) * W + j``.  One flat
    loop, no inner loop: safe for Taichi's reverse mode."""
    for p in range(pixel.shape[0]):
        q = pixel[p] % (height * width)
        px = pixel_x(q % width, width)
        py = pixel_y(q // width, height)
        d0, _w0 = edge_terms(px, py, coords[p, 0], coords[p, 1], coords[p, 2], coords[p, 3])
        d1, _w1 = edge_terms(px, py, coords[p, 2], coords[p, 3], coords[p, 4], coords[p, 5])
        d2, _w2 = edge_terms(px, py, coords[p, 4], coords[p, 5], coords[p, 0], coords[p, 1])
        dist2[p] = ti.min(d0, d1, d2)


@ti.kernel
def sum_pair_grads(pair_grad: ti.types.ndarray(), order: ti.types.ndarray(),
                   start: ti.types.ndarray(), count: ti.types.ndarray(),
                   fv_grad: ti.types.ndarray()):
    """Per face, in a fixed order: ``fv_grad[b, f, k, a]`` (a = x, y; z gets 0) = the sum
    of ``pair_grad[order[q], 2k + a]`` over ``q`` in ``[start[bf], start[bf] +
    count[bf])``, ``bf = b * F + f``.  ``pair_grad`` [P, 6]; ``order`` int64 [P]: the
    pairs sorted by face (stable); ``start`` / ``count`` int64 [B * F].  One thread per
    face, no atomics: bit-reproducible on every thread count."""
    for b, f in ti.ndrange(fv_grad.shape[0], fv_grad.shape[1]):
        bf = b * fv_grad.shape[1] + f
        g = ti.Vector([0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dt=ti.f64)
        for q in range(start[bf], start[bf] + count[bf]):
            r = order[q]
            for k in ti.static(range(6)):
                g[k] += ti.cast(pair_grad[r, k], ti.f64)
        for k in ti.static(range(3)):
            fv_grad[b, f, k, 0] = g[2 * k]
            fv_grad[b, f, k, 1] = g[2 * k + 1]
            fv_grad[b, f, k, 2] = 0.0
