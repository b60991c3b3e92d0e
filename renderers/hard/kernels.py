"""Taichi kernels of the hard (binary) rasterizer, shared with ``n3mr``.

A pixel is covered by a face when its centre (:mod:`renderers.grid`) lies inside the
face's screen-space triangle: edges inclusive, either winding, degenerate (zero-area)
triangles cover nothing; the same rule as :func:`renderers.soft_math.pixel_face_terms`.

Both kernels run one thread per (image, face) and loop over the pixels of the face's
bounding box only (:func:`renderers.taichi_grid.pixel_box`, grown by one pixel against
rounding, clamped to the image):

* :func:`coverage` writes 1 into every covered pixel (the hard silhouette);
* :func:`nearest_face` is a z-buffer: per pixel, the covering face nearest to the
  camera (perspective-correct depth), ties to the lower face index.  It packs
  ``(float32 depth bits << 32) | face`` into one int64 key and keeps the atomic
  minimum, so it needs no locks and is deterministic.

Kernels take torch tensors directly (Taichi ndarrays), compute in float64 and store
in the output tensor's dtype.
"""

import taichi as ti

from ..taichi_grid import column_of, pixel_box, pixel_x, pixel_y, row_of  # noqa: F401  (n3mr uses them)


@ti.func
def edge_function(ax: ti.f64, ay: ti.f64, bx: ti.f64, by: ti.f64, px: ti.f64,
                  py: ti.f64) -> ti.f64:
    """``cross(b - a, p - a)``: > 0 when ``p`` is left of the directed edge a -> b."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


@ti.func
def edge_weights(x0: ti.f64, y0: ti.f64, x1: ti.f64, y1: ti.f64, x2: ti.f64, y2: ti.f64,
                 px: ti.f64, py: ti.f64):
    """``(covered, e0, e1, e2)`` of pixel centre ``(px, py)``: the three edge functions
    and whether they share a sign (inside, edges inclusive, either winding): the one
    coverage rule of :func:`coverage` and :func:`nearest_face`."""
    e0 = edge_function(x0, y0, x1, y1, px, py)
    e1 = edge_function(x1, y1, x2, y2, px, py)
    e2 = edge_function(x2, y2, x0, y0, px, py)
    covered = (e0 >= 0 and e1 >= 0 and e2 >= 0) or (e0 <= 0 and e1 <= 0 and e2 <= 0)
    return covered, e0, e1, e2


@ti.kernel
def _rasterize(fv: ti.types.ndarray(), out: ti.types.ndarray(), z_buffer: ti.template()):
    """The one pixel loop of :func:`coverage` (``z_buffer`` False: ``out`` = silhouette)
    and :func:`nearest_face` (True: ``out`` = z-buffer keys); see those for the
    arguments."""
    height = out.shape[1]
    width = out.shape[2]
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        x0 = ti.cast(fv[b, f, 0, 0], ti.f64)
        y0 = ti.cast(fv[b, f, 0, 1], ti.f64)
        z0 = ti.cast(fv[b, f, 0, 2], ti.f64)
        x1 = ti.cast(fv[b, f, 1, 0], ti.f64)
        y1 = ti.cast(fv[b, f, 1, 1], ti.f64)
        z1 = ti.cast(fv[b, f, 1, 2], ti.f64)
        x2 = ti.cast(fv[b, f, 2, 0], ti.f64)
        y2 = ti.cast(fv[b, f, 2, 1], ti.f64)
        z2 = ti.cast(fv[b, f, 2, 2], ti.f64)
        area2 = edge_function(x0, y0, x1, y1, x2, y2)
        if area2 != 0.0:
            i0, i1, j0, j1 = pixel_box(x0, y0, x1, y1, x2, y2, 0.0, 1, height, width)
            for i in range(i0, i1):
                py = pixel_y(i, height)
                for j in range(j0, j1):
                    covered, e0, e1, e2 = edge_weights(x0, y0, x1, y1, x2, y2,
                                                       pixel_x(j, width), py)
                    if covered:
                        if ti.static(z_buffer):
                            # barycentric weights of v0, v1, v2 (>= 0 inside, either winding)
                            inv_z = (e1 / z0 + e2 / z1 + e0 / z2) / area2
                            depth = ti.cast(1.0 / inv_z, ti.f32)
                            bits = ti.cast(ti.bit_cast(depth, ti.i32), ti.i64)
                            ti.atomic_min(out[b, i, j], (bits << 32) | ti.cast(f, ti.i64))
                        else:
                            out[b, i, j] = 1.0


def coverage(fv, out) -> None:
    """Hard silhouettes: ``out[b, i, j] = 1`` where pixel ``(i, j)`` is covered by a face
    of image ``b``.

    ``fv`` [B, F, 3, 3] screen space (x, y normalized; z unused); ``out`` [B, H, W]
    float, zero-initialised by the caller; only covered pixels are written."""
    _rasterize(fv, out, False)


def nearest_face(fv, key) -> None:
    """z-buffer: ``key[b, i, j]`` = min over covering faces ``f`` of
    ``(float32 bits of depth) << 32 | f``.

    ``fv`` [B, F, 3, 3] screen space, z = camera depth > 0; ``key`` int64 [B, H, W]
    initialised to the int64 maximum by the caller (left there where nothing covers).
    Depth at a pixel is perspective-correct: ``1 / sum_k(w_k / z_k)`` with ``w`` the
    screen-space barycentric weights."""
    _rasterize(fv, key, True)
