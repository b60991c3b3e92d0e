"""Taichi kernels of SoftRas silhouettes (Eq. 1-2 of the paper).

Layout of the computation (see :mod:`renderers.soft_math` for the formulas):

1. :func:`face_pixel_bounds` (not differentiated): per (image, face) the pixel
   rectangle ``[i0, i1) x [j0, j1)`` that can hold pairs with ``D > eps``: the face's
   screen bounding box grown by the cull radius ``sqrt(sigma * log(1/eps - 1))``.
   Integer loop bounds live in their own kernel: Taichi's reverse mode must not
   derive them from differentiated float data.
2. The caller turns the rectangles into a flat list of candidate pairs (a prefix sum
   of their pixel counts, in torch).
3. :func:`soft_log_sum` (differentiated by Taichi autodiff, ``kernel.grad``): one
   parallel loop over the candidate pairs; each pair that passes the distance test
   atomically adds ``log(1 - D)`` into ``acc[b, i, j]``.  No inner loop and no
   loop-carried state (an inner loop would need Taichi's autodiff stack, whose depth
   is unknown for data-dependent trip counts); ``exp`` only sees ``-|z|`` so neither the
   value nor its adjoint can overflow.

The silhouette is ``S = 1 - exp(acc)`` (done in torch by the caller).  Kernels take
torch tensors directly (Taichi ndarrays), compute in float64 and store in the
tensor's dtype (float32 or float64).
"""


import taichi as ti

from ..taichi_grid import column_of, pixel_x, pixel_y, row_of


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


@ti.kernel
def soft_log_sum(fv: ti.types.ndarray(), bounds: ti.types.ndarray(),
                 pair_face: ti.types.ndarray(), face_offset: ti.types.ndarray(),
                 acc: ti.types.ndarray(), inv_sigma: ti.f64, max_d2: ti.f64):
    """Accumulate ``acc[b, i, j] += log(1 - D)`` over the candidate pixel-face pairs.

    ``fv`` [B, F, 3, 3]; ``bounds`` int32 [B, F, 6] from :func:`face_pixel_bounds`;
    ``pair_face`` int32 [P]: flat face index ``b * F + f`` of each candidate pair;
    ``face_offset`` int32 [B * F]: index of each face's first pair; ``acc`` [B, H, W]
    (zero-initialised by the caller); ``inv_sigma`` = 1/sigma; ``max_d2`` = cull radius^2.
    One flat parallel loop over pairs: no inner loop, hence no autodiff stack."""
    for p in range(pair_face.shape[0]):
        bf = pair_face[p]
        b = bf // fv.shape[1]
        f = bf % fv.shape[1]
        k = p - face_offset[bf]
        i = bounds[b, f, 0] + k // bounds[b, f, 5]
        j = bounds[b, f, 2] + k % bounds[b, f, 5]
        px = pixel_x(j, acc.shape[2])
        py = pixel_y(i, acc.shape[1])
        x0 = fv[b, f, 0, 0]
        y0 = fv[b, f, 0, 1]
        x1 = fv[b, f, 1, 0]
        y1 = fv[b, f, 1, 1]
        x2 = fv[b, f, 2, 0]
        y2 = fv[b, f, 2, 1]
        area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        d0, w0 = edge_terms(px, py, x0, y0, x1, y1)
        d1, w1 = edge_terms(px, py, x1, y1, x2, y2)
        d2, w2 = edge_terms(px, py, x2, y2, x0, y0)
        dist2 = ti.min(d0, d1, d2)
        inside = ((w0 >= 0 and w1 >= 0 and w2 >= 0)
                  or (w0 <= 0 and w1 <= 0 and w2 <= 0)) and area2 != 0
        keep = inside or dist2 < max_d2
        z = ti.select(inside, dist2, -dist2) * inv_sigma
        log_1m_d = -(ti.max(z, 0.0) + ti.log(1.0 + ti.exp(-ti.abs(z))))
        acc[b, i, j] += ti.select(keep, log_1m_d, 0.0)


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
