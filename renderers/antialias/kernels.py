"""Taichi kernels of nvdiffrast's analytic antialiasing applied to a hard silhouette.

Work items are neighbouring pixel pairs: ``d = 0`` pairs pixel ``(i, j)`` with its
right neighbour ``(i, j + 1)``; ``d = 1`` pairs ``(i, j)`` with the pixel above,
``(i - 1, j)`` (the +y direction, as nvdiffrast's "down" neighbour is +y in its
bottom-up pixel frame).  Only pairs whose coverage differs do anything for a silhouette
(nvdiffrast blends colours, and two covered pixels have equal ones).

Frame of one item (nvdiffrast's ``AntialiasFwdAnalysisKernel``): pixel units centred on
the pixel whose face is drawn (the covered one), axes swapped for ``d = 1`` so that the
pair always runs along +x; ``ds = +1`` when the covered pixel is the first of the pair,
else ``-1``.

On the CPU each kernel runs one task per image, drained by every thread from a task
queue (:mod:`renderers.taichi_queue`): a task owns its image's pixels and faces, so its
adds are plain and in a fixed order (the same bits on any thread count), and the
image-sized loops are not split statically.  Elsewhere (CUDA) one thread per item, with
atomic adds.

Kernels take torch tensors directly and compute in float64.
"""

import taichi as ti

from .. import taichi_queue
from ..edgegrad.kernels import finish_face_rows, zero_face_rows
from ..taichi_grid import pixel_x, pixel_y

#: nvdiffrast: "expect no more than 1/16 pixel inaccuracy".
CROSSING_SLACK = 0.0625
#: nvdiffrast's epsilon on the edge's extent along the crossing axis (pixels).
INV_DY_EPS = 1e-3
_NO_EDGE = -1.0e30


@ti.func
def _same_sign(a: ti.f64, b: ti.f64) -> ti.i32:
    return ti.select((a >= 0.0) == (b >= 0.0), 1, 0)


@ti.func
def _cross(ax, ay, bx, by, cx, cy):
    return (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)


@ti.func
def item_pixels(i: ti.i32, j: ti.i32, d: ti.i32):
    """``(i1, j1)``: the second pixel of item ``(i, j, d)`` (may lie outside)."""
    i1 = i - d
    j1 = j + 1 - d
    return i1, j1


@ti.func
def local(fv: ti.template(), b, f, k, cx, cy, sx, sy, d):
    """Vertex ``k`` of face ``f`` in the item's frame (pixel units, swapped for d = 1)."""
    x = (fv[b, f, k, 0] - cx) * sx
    y = (fv[b, f, k, 1] - cy) * sy
    return ti.select(d == 1, y, x), ti.select(d == 1, x, y)


@ti.func
def _add(arr: ti.template(), b, i, j, value, plain: ti.template()):
    """``arr[b, i, j] += value``: a plain load and store when ``plain`` (the task owns
    image ``b``: same rounding, no atomic), else an atomic add."""
    if ti.static(plain):
        arr[b, i, j] = arr[b, i, j] + value
    else:
        ti.atomic_add(arr[b, i, j], value)


@ti.func
def _analyse_item(fv: ti.template(), wings: ti.template(), face_index: ti.template(),
                  adjust: ti.template(), alpha: ti.template(), edge: ti.template(),
                  b, i, j, d, height, width, plain: ti.template()):
    """Item ``(b, i, j, d)`` of :func:`analyse`."""
    i1, j1 = item_pixels(i, j, d)
    if i1 >= 0 and j1 < width:
        c0 = ti.select(face_index[b, i, j] >= 0, 1.0, 0.0)
        c1 = ti.select(face_index[b, i1, j1] >= 0, 1.0, 0.0)
        if c0 != c1:
            ds = ti.select(c0 > 0.5, 1.0, -1.0)
            ti_, tj = ti.select(c0 > 0.5, i, i1), ti.select(c0 > 0.5, j, j1)
            f = face_index[b, ti_, tj]
            cx = pixel_x(tj, width)
            cy = pixel_y(ti_, height)
            sx = 0.5 * width
            sy = 0.5 * height
            x0, y0 = local(fv, b, f, 0, cx, cy, sx, sy, d)
            x1, y1 = local(fv, b, f, 1, cx, cy, sx, sy, d)
            x2, y2 = local(fv, b, f, 2, cx, cy, sx, sy, d)
            o0x, o0y = local(wings, b, f, 0, cx, cy, sx, sy, d)
            o1x, o1y = local(wings, b, f, 1, cx, cy, sx, sy, d)
            o2x, o2y = local(wings, b, f, 2, cx, cy, sx, sy, d)
            bb = _cross(x0, y0, x1, y1, x2, y2)
            a0 = _cross(o0x, o0y, x1, y1, x2, y2)
            a1 = _cross(o1x, o1y, x2, y2, x0, y0)
            a2 = _cross(o2x, o2y, x0, y0, x1, y1)
            s0 = _same_sign(a0, bb)
            s1 = _same_sign(a1, bb)
            s2 = _same_sign(a2, bb)
            if s0 + s1 + s2 > 0:
                di, dc = _crossing(x0, y0, x1, y1, x2, y2, s0, s1, s2, ds)
                if dc > -CROSSING_SLACK and dc < 1.0 + CROSSING_SLACK:
                    dc = ti.math.clamp(dc, 0.0, 1.0)
                    a = ds * (0.5 - dc)
                    if a > 0.0:
                        _add(adjust, b, i, j, a * (c1 - c0), plain)
                    else:
                        _add(adjust, b, i1, j1, a * (c1 - c0), plain)
                    alpha[b, i, j, d] = a
                    edge[b, i, j, d] = di


@ti.func
def _image_buffers(face_index: ti.template(), adjust: ti.template(), alpha: ti.template(),
                   edge: ti.template(), out: ti.template(), b, height, width,
                   init: ti.template()):
    """Image ``b``'s per-pixel buffers of :func:`analyse`: ``init`` sets ``adjust`` to 0,
    ``alpha`` to 0 and ``edge`` to -1; else ``out[b, i, j]`` = the silhouette (1 where
    ``face_index >= 0``) plus ``adjust``, in float64, rounded once to ``out``'s dtype."""
    for i in range(height):
        for j in range(width):
            if ti.static(init):
                adjust[b, i, j] = 0.0
                for d in ti.static(range(2)):
                    alpha[b, i, j, d] = 0.0
                    edge[b, i, j, d] = -1
            else:
                c = ti.select(face_index[b, i, j] >= 0, 1.0, 0.0)
                out[b, i, j] = c + adjust[b, i, j]


@ti.kernel
def analyse(fv: ti.types.ndarray(), wings: ti.types.ndarray(), face_index: ti.types.ndarray(),
            adjust: ti.types.ndarray(), alpha: ti.types.ndarray(), edge: ti.types.ndarray(),
            out: ti.types.ndarray(), queue: ti.types.ndarray(), n_slots: ti.i32,
            queued: ti.template()):
    """Forward: for every item whose coverage differs, find the silhouette edge crossing
    the segment between the two pixel centres and blend (module docstring).

    ``fv`` [B, F, 3, 3] screen space; ``wings`` [B, F, 3, 2]: per face and edge ``k``
    (the edge opposite vertex ``k``) the opposite vertex of the neighbouring face across
    it, or vertex ``k`` itself on a boundary; ``face_index`` int32 [B, H, W] (z-buffer,
    -1 = background); ``adjust`` [B, H, W] float64: receives ``alpha * (c1 - c0)``;
    ``alpha`` [B, H, W, 2] float64 and ``edge`` int32 [B, H, W, 2]: per item, for the
    backward.  ``queued`` (the CPU layout): one task per image, drained by every thread
    from counter 0 of ``queue`` int32 [>= 1] over ``n_slots`` iterations
    (:mod:`renderers.taichi_queue`); the task initialises its image's ``adjust`` (0),
    ``alpha`` (0) and ``edge`` (-1), which may come uninitialised, runs its items in
    ``(i, j, d)`` order with plain adds, and writes ``out`` [B, H, W] (the output
    dtype) = silhouette + ``adjust``.  Not ``queued`` (CUDA): one thread per item,
    atomic adds, the three buffers initialised by the caller, ``out``, ``queue`` and
    ``n_slots`` unused."""
    height = face_index.shape[1]
    width = face_index.shape[2]
    if ti.static(queued):
        taichi_queue.reset(queue, 0)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                b = taichi_queue.take(queue, 0)
                while b < face_index.shape[0]:
                    _image_buffers(face_index, adjust, alpha, edge, out, b, height, width,
                                   True)
                    for i in range(height):
                        for j in range(width):
                            for d in ti.static(range(2)):
                                _analyse_item(fv, wings, face_index, adjust, alpha, edge,
                                              b, i, j, d, height, width, True)
                    _image_buffers(face_index, adjust, alpha, edge, out, b, height, width,
                                   False)
                    b = taichi_queue.take(queue, 0)
    else:
        for b, i, j, d in ti.ndrange(face_index.shape[0], height, width, 2):
            _analyse_item(fv, wings, face_index, adjust, alpha, edge, b, i, j, d, height,
                          width, False)


@ti.func
def _crossing(x0, y0, x1, y1, x2, y2, s0, s1, s2, ds):
    """``(di, dc)``: the edge (opposite vertex ``di``) crossing the x axis furthest
    along ``ds``, and ``dc`` = that crossing's distance from the drawn pixel towards the
    other one (pixels); ``dc = -1e30`` when it is not a steep silhouette edge."""
    dx0 = x2 - x1
    dx1 = x0 - x2
    dx2 = x1 - x0
    dy0 = y2 - y1
    dy1 = y0 - y2
    dy2 = y1 - y0
    c0 = ti.select(_same_sign(y1, y2) == 1, _NO_EDGE, ds * (x1 * dy0 - y1 * dx0) / dy0)
    c1 = ti.select(_same_sign(y2, y0) == 1, _NO_EDGE, ds * (x2 * dy1 - y2 * dx1) / dy1)
    c2 = ti.select(_same_sign(y0, y1) == 1, _NO_EDGE, ds * (x0 * dy2 - y0 * dx2) / dy2)
    di = 0
    best = c0
    if c1 > best:
        di = 1
        best = c1
    if c2 > best:
        di = 2
        best = c2
    dc = _NO_EDGE
    if di == 0 and s0 == 1 and ti.abs(dy0) >= ti.abs(dx0):
        dc = best
    if di == 1 and s1 == 1 and ti.abs(dy1) >= ti.abs(dx1):
        dc = best
    if di == 2 and s2 == 1 and ti.abs(dy2) >= ti.abs(dx2):
        dc = best
    return di, dc


@ti.func
def _add_grad(grad_fv: ti.template(), b, f, k, c, value, plain: ti.template()):
    """``grad_fv[b, f, k, c] += value`` (plain or atomic, as :func:`_add`)."""
    if ti.static(plain):
        grad_fv[b, f, k, c] = grad_fv[b, f, k, c] + value
    else:
        ti.atomic_add(grad_fv[b, f, k, c], value)


@ti.func
def _gradient_item(fv: ti.template(), face_index: ti.template(), alpha: ti.template(),
                   edge: ti.template(), grad_out: ti.template(), grad_fv: ti.template(),
                   b, i, j, d, height, width, plain: ti.template()):
    """Item ``(b, i, j, d)`` of :func:`gradient`."""
    a = alpha[b, i, j, d]
    di = edge[b, i, j, d]
    if di >= 0 and a != 0.0 and ti.abs(a) < 0.5:
        i1, j1 = item_pixels(i, j, d)
        c0 = ti.select(face_index[b, i, j] >= 0, 1.0, 0.0)
        c1 = 1.0 - c0
        g = ti.select(a > 0.0, ti.cast(grad_out[b, i, j], ti.f64),
                      ti.cast(grad_out[b, i1, j1], ti.f64))
        dd = g * (c1 - c0)
        ti_, tj = ti.select(c0 > 0.5, i, i1), ti.select(c0 > 0.5, j, j1)
        f = face_index[b, ti_, tj]
        k1 = (di + 1) % 3
        k2 = (di + 2) % 3
        cx = pixel_x(tj, width)
        cy = pixel_y(ti_, height)
        sx = 0.5 * width
        sy = 0.5 * height
        x1, y1 = local(fv, b, f, k1, cx, cy, sx, sy, d)
        x2, y2 = local(fv, b, f, k2, cx, cy, sx, sy, d)
        dx = x2 - x1
        dy = y2 - y1
        dby = (x1 * dy - y1 * dx) / (dy + ti.select(dy >= 0.0, INV_DY_EPS, -INV_DY_EPS))
        iy = 1.0 / (dy + ti.select(dy >= 0.0, INV_DY_EPS, -INV_DY_EPS))
        g1x = -iy * dd * y2
        g2x = iy * dd * y1
        g1y = -iy * dd * (dby - x2)
        g2y = iy * dd * (dby - x1)
        # back from the item frame (pixels, swapped for d = 1) to screen x, y
        ax = ti.select(d == 1, 1, 0)
        ay = 1 - ax
        s_first = ti.select(d == 1, sy, sx)
        s_second = ti.select(d == 1, sx, sy)
        _add_grad(grad_fv, b, f, k1, ax, g1x * s_first, plain)
        _add_grad(grad_fv, b, f, k2, ax, g2x * s_first, plain)
        _add_grad(grad_fv, b, f, k1, ay, g1y * s_second, plain)
        _add_grad(grad_fv, b, f, k2, ay, g2y * s_second, plain)


@ti.kernel
def gradient(fv: ti.types.ndarray(), face_index: ti.types.ndarray(),
             alpha: ti.types.ndarray(), edge: ti.types.ndarray(),
             grad_out: ti.types.ndarray(), grad_fv: ti.types.ndarray(),
             out: ti.types.ndarray(), faces: ti.types.ndarray(), queue: ti.types.ndarray(),
             n_slots: ti.i32, queued: ti.template(), finish: ti.template(),
             dt: ti.template()):
    """Backward (nvdiffrast's ``AntialiasGradKernel``): for each blended item with
    ``0 < |alpha| < 0.5``, ``dd = g[written pixel] * (c1 - c0)`` and the derivative of the
    edge's crossing point w.r.t. its two vertices (with ``1 / (dy +- 1e-3)``), chained
    to screen x, y, into ``grad_fv`` float64 [B, F, 3, 3] (z gets 0).  ``grad_out``
    [B, H, W] (float32/64, read as float64).  ``queued`` (the CPU layout), ``queue``,
    ``n_slots``: as :func:`analyse`; the task zeroes its image's rows of ``grad_fv``
    (which may come uninitialised), adds its items in ``(i, j, d)`` order (its faces'
    rows are its own: the same bits on any thread count) and finishes the rows
    (:func:`renderers.edgegrad.kernels.finish_face_rows` with ``finish``, ``out``,
    ``faces``, ``dt``).  Not ``queued``: one thread per item, atomic adds into a zeroed
    ``grad_fv``.  Buffers: :func:`renderers.edgegrad.kernels.gradient_buffers`."""
    height = face_index.shape[1]
    width = face_index.shape[2]
    if ti.static(queued):
        taichi_queue.reset(queue, 0)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                b = taichi_queue.take(queue, 0)
                while b < face_index.shape[0]:
                    zero_face_rows(grad_fv, b)
                    for i in range(height):
                        for j in range(width):
                            for d in ti.static(range(2)):
                                _gradient_item(fv, face_index, alpha, edge, grad_out,
                                               grad_fv, b, i, j, d, height, width, True)
                    finish_face_rows(grad_fv, out, faces, b, finish, dt)
                    b = taichi_queue.take(queue, 0)
    else:
        for b, i, j, d in ti.ndrange(face_index.shape[0], height, width, 2):
            _gradient_item(fv, face_index, alpha, edge, grad_out, grad_fv, b, i, j, d,
                           height, width, False)
