"""Taichi kernel of DRTK's edge-gradient estimator on a hard silhouette.

Work items are pixel pairs: ``d = 0`` pairs ``(i, j)`` with its right neighbour
``(i, j + 1)``, ``d = 1`` with the pixel below, ``(i + 1, j)`` (DRTK's "down": its pixel
y runs down the rows, as this project's rows do).  See :mod:`renderers.edgegrad` for the
rule.  On the CPU one task per image, drained by every thread from a task queue
(:mod:`renderers.taichi_queue`), so the image loop is not split statically and each
face's sum has one order on any thread count.  Kernels take torch tensors directly and
compute in float64.
"""

import taichi as ti
import torch

from .. import taichi_queue
from ..hard.kernels import edge_function
from ..taichi_grid import pixel_x, pixel_y


@ti.func
def perspective_barycentrics(fv: ti.template(), b, f, px, py):
    """Perspective-correct barycentric weights of pixel centre ``(px, py)`` in face
    ``f`` (screen-space weights divided by each vertex's depth, renormalized), as DRTK's
    ``bary_img``."""
    x0, y0, z0 = fv[b, f, 0, 0], fv[b, f, 0, 1], fv[b, f, 0, 2]
    x1, y1, z1 = fv[b, f, 1, 0], fv[b, f, 1, 1], fv[b, f, 1, 2]
    x2, y2, z2 = fv[b, f, 2, 0], fv[b, f, 2, 1], fv[b, f, 2, 2]
    w0 = edge_function(x1, y1, x2, y2, px, py) / z0
    w1 = edge_function(x2, y2, x0, y0, px, py) / z1
    w2 = edge_function(x0, y0, x1, y1, px, py) / z2
    s = w0 + w1 + w2
    return w0 / s, w1 / s, w2 / s


@ti.func
def _pair_gradient(fv: ti.template(), face_index: ti.template(), grad_out: ti.template(),
                   grad_fv: ti.template(), b, i, j, d, height, width, plain: ti.template()):
    """Pair ``(b, i, j, d)`` of :func:`edge_gradient`: its three adds into the covered
    pixel's face row, plain loads and stores when ``plain`` (the task owns image ``b``;
    the same rounding as an atomic add), else atomic."""
    i1 = i + d
    j1 = j + 1 - d
    if i1 < height and j1 < width:
        f0 = face_index[b, i, j]
        f1 = face_index[b, i1, j1]
        if (f0 >= 0) != (f1 >= 0):
            c0 = ti.select(f0 >= 0, 1.0, 0.0)
            # DRTK: image difference times the mean output gradient of the pair
            g0 = ti.cast(grad_out[b, i, j], ti.f64)
            g1 = ti.cast(grad_out[b, i1, j1], ti.f64)
            grad_dot = (1.0 - 2.0 * c0) * 0.5 * (g0 + g1)
            ci, cj, f = i, j, f0
            if f0 < 0:
                ci, cj, f = i1, j1, f1
            # dL/d(pixel-space position of the covered pixel's surface point)
            g_pix = -grad_dot
            # pixel x = (x W + W - 1) / 2, pixel row = (H - 1 - y H) / 2
            scale = ti.select(d == 0, 0.5 * width, -0.5 * height)
            w0, w1, w2 = perspective_barycentrics(fv, b, f, pixel_x(cj, width),
                                                  pixel_y(ci, height))
            if ti.static(plain):
                grad_fv[b, f, 0, d] = grad_fv[b, f, 0, d] + w0 * g_pix * scale
                grad_fv[b, f, 1, d] = grad_fv[b, f, 1, d] + w1 * g_pix * scale
                grad_fv[b, f, 2, d] = grad_fv[b, f, 2, d] + w2 * g_pix * scale
            else:
                ti.atomic_add(grad_fv[b, f, 0, d], w0 * g_pix * scale)
                ti.atomic_add(grad_fv[b, f, 1, d], w1 * g_pix * scale)
                ti.atomic_add(grad_fv[b, f, 2, d], w2 * g_pix * scale)


#: How a queued backward task finishes its image's float64 face gradient rows
#: (:func:`finish_face_rows`): keep them, round them to the output dtype, or add them
#: into per-vertex gradients as the face gather's backward does.
FINISH_KEEP, FINISH_CAST, FINISH_SCATTER = 0, 1, 2


@ti.func
def zero_face_rows(grad_fv: ti.template(), b):
    """Image ``b``'s rows of ``grad_fv`` float64 [B, F, 3, 3] set to 0."""
    for f in range(grad_fv.shape[1]):
        for k in ti.static(range(3)):
            for c in ti.static(range(3)):
                grad_fv[b, f, k, c] = 0.0


@ti.func
def finish_face_rows(grad_fv: ti.template(), out: ti.template(), faces: ti.template(), b,
                     finish: ti.template(), dt: ti.template()):
    """Image ``b``'s float64 rows of ``grad_fv`` [B, F, 3, 3], done: :data:`FINISH_CAST`
    copies them to ``out`` [B, F, 3, 3] (rounded once to its dtype ``dt``);
    :data:`FINISH_SCATTER` sets ``out`` [B, V, 3] (``dt``) to the sum over face corners
    ``(f, k)`` with ``faces[f, k] == v`` (``faces`` int32 [F, 3]) of the corner's row
    rounded to ``dt``, added in ``dt`` from 0 in corner order: the bits of
    ``renderers.base.gather_faces``'s backward (``index_add_`` in face order) of the
    rounded face gradient; :data:`FINISH_KEEP` does nothing."""
    if ti.static(finish == FINISH_CAST):
        for f in range(grad_fv.shape[1]):
            for k in ti.static(range(3)):
                for c in ti.static(range(3)):
                    out[b, f, k, c] = ti.cast(grad_fv[b, f, k, c], dt)
    if ti.static(finish == FINISH_SCATTER):
        for v in range(out.shape[1]):
            for c in ti.static(range(3)):
                out[b, v, c] = ti.cast(0.0, dt)
        for f in range(grad_fv.shape[1]):
            for k in ti.static(range(3)):
                v = faces[f, k]
                for c in ti.static(range(3)):
                    out[b, v, c] = out[b, v, c] + ti.cast(grad_fv[b, f, k, c], dt)


def gradient_buffers(fv: torch.Tensor, faces: torch.Tensor | None = None,
                     num_vertices: int = 0) -> tuple:
    """Buffers of a backward kernel (:func:`edge_gradient`, ``antialias``'s
    ``gradient``) for faces ``fv`` [B, F, 3, 3] on the Taichi device: ``(grad_fv, out,
    faces_i32, queue, n_slots, queued, finish, dt)`` with ``grad_fv`` float64 [B, F, 3,
    3] (uninitialised when ``queued``, the CPU layout: the tasks zero it; else zeros),
    ``out`` the result in ``fv``'s dtype: [B, V, 3] (``V = num_vertices``) when
    ``faces`` int64 [F, 3] is given (queued only: the gather's backward in the kernel),
    else [B, F, 3, 3] (a [1, 1, 1, 1] placeholder where the kernel leaves the result in
    ``grad_fv``).  :func:`gradient_result` picks the result after the launch."""
    dev = fv.device
    queued = dev.type == "cpu"
    nb = fv.shape[0]
    grad = (torch.empty if queued else torch.zeros)(fv.shape, dtype=torch.float64,
                                                   device=dev)
    if faces is not None:
        finish = FINISH_SCATTER
        out = torch.empty(nb, num_vertices, 3, dtype=fv.dtype, device=dev)
        faces_i32 = faces.to(dev, torch.int32).contiguous()
    else:
        finish = FINISH_CAST if queued and fv.dtype != torch.float64 else FINISH_KEEP
        out = torch.empty(fv.shape if finish == FINISH_CAST else (1, 1, 1, 1),
                          dtype=fv.dtype, device=dev)
        faces_i32 = torch.zeros(1, 3, dtype=torch.int32, device=dev)
    dt = ti.f64 if fv.dtype == torch.float64 else ti.f32
    return (grad, out, faces_i32, taichi_queue.counters(1, dev), taichi_queue.slots(),
            queued, finish, dt)


def gradient_result(buffers: tuple) -> torch.Tensor:
    """The result of a launch on :func:`gradient_buffers`' ``buffers``: ``out`` or, with
    :data:`FINISH_KEEP`, ``grad_fv`` in ``out``'s dtype."""
    grad, out, *_rest, finish, _dt = buffers
    return grad.to(out.dtype) if finish == FINISH_KEEP else out


@ti.kernel
def edge_gradient(fv: ti.types.ndarray(), face_index: ti.types.ndarray(),
                  grad_out: ti.types.ndarray(), grad_fv: ti.types.ndarray(),
                  out: ti.types.ndarray(), faces: ti.types.ndarray(),
                  queue: ti.types.ndarray(), n_slots: ti.i32, queued: ti.template(),
                  finish: ti.template(), dt: ti.template()):
    """The estimated ``dL/d face_vertices`` (x, y; z gets 0) in ``grad_fv`` (float64
    [B, F, 3, 3]).  ``face_index`` int32 [B, H, W] (z-buffer, -1 = background);
    ``grad_out`` [B, H, W] (float32/64, read as float64) = dL/d silhouette.
    ``queued`` (the CPU layout): one task per image, drained by every thread from
    counter 0 of ``queue`` int32 [>= 1] over ``n_slots`` iterations
    (:mod:`renderers.taichi_queue`); the task zeroes its image's rows of ``grad_fv``
    (which may come uninitialised), adds its pairs in ``(i, j, d)`` order with plain
    adds (a face's adds all come from its own image, so each sum has one order whatever
    the thread count) and finishes the rows (:func:`finish_face_rows` with ``finish``,
    ``out``, ``faces``, ``dt``).  Not ``queued`` (CUDA): one thread per pair, atomic
    adds into a zeroed ``grad_fv``; ``out``, ``faces``, ``queue``, ``n_slots`` unused.
    Buffers: :func:`gradient_buffers`."""
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
                                _pair_gradient(fv, face_index, grad_out, grad_fv, b, i, j,
                                               d, height, width, True)
                    finish_face_rows(grad_fv, out, faces, b, finish, dt)
                    b = taichi_queue.take(queue, 0)
    else:
        for b, i, j, d in ti.ndrange(face_index.shape[0], height, width, 2):
            _pair_gradient(fv, face_index, grad_out, grad_fv, b, i, j, d, height, width,
                           False)
