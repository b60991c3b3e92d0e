"""Taichi kernels of the hard (binary) rasterizer, shared with ``n3mr``.

A pixel is covered by a face when its centre (:mod:`renderers.grid`) lies inside the
face's screen-space triangle: edges inclusive, either winding, degenerate (zero-area)
triangles cover nothing; the same rule as :func:`renderers.soft_math.pixel_face_terms`.

Both kernels loop over the pixels of each face's bounding box only
(:func:`renderers.taichi_grid.pixel_box`, grown by one pixel against rounding, clamped
to the image), each row cut to the columns inside the face's three edges widened by a
margin far above rounding (:func:`_row_columns`: at the paper setting about one box
pixel in eight is covered; the cut leaves the result bit for bit the same).  On the
CPU every thread drains (image, block of faces) tasks from a task queue
(:mod:`renderers.taichi_queue`: Taichi 1.7 splits a plain loop into one static half per
thread, and the paper setting's images differ in cost); on CUDA one thread per (image,
face):

* :func:`coverage` writes 1 into every covered pixel (the hard silhouette);
* :func:`nearest_face` is a z-buffer: per pixel, the covering face nearest to the
  camera (perspective-correct depth), ties to the lower face index.  It packs
  ``(float32 depth bits << 32) | face`` into one int64 key and keeps the atomic
  minimum, so it needs no locks and is deterministic.

Kernels take torch tensors directly (Taichi ndarrays), compute in float64 and store
in the output tensor's dtype.
"""

import taichi as ti
import torch

from .. import taichi_queue
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


#: Faces per task of the CPU kernels' queue (:func:`_rasterize`): 40 tasks per image of
#: the paper setting's 1280 faces, small enough to balance two threads, large enough
#: that taking a task costs nothing next to its pixels.
FACE_BLOCK = 32
#: The z-buffer's key where no face covers the pixel (the int64 maximum).
EMPTY_KEY = 2**63 - 1


@ti.func
def _corner(fv: ti.template(), sv: ti.template(), faces: ti.template(), b, f, k, c,
            indexed: ti.template()):
    """Coordinate ``c`` of corner ``k`` of face ``(b, f)`` in float64: ``fv[b, f, k, c]``,
    or with ``indexed`` the vertex it is gathered from, ``sv[b, faces[f, k], c]`` (the
    same value)."""
    value = ti.cast(0.0, ti.f64)
    if ti.static(indexed):
        value = ti.cast(sv[b, faces[f, k], c], ti.f64)
    else:
        value = ti.cast(fv[b, f, k, c], ti.f64)
    return value



#: Faces whose doubled area is at most this times their longest edge squared scan whole
#: box rows: their orientation could be lost to rounding (far below any visible face).
SLIVER_RATIO = 1e-10
#: Margin of the row spans, per unit of an edge function's scale: about 1e7 times the
#: rounding of the edge functions (a few float64 ulps), far below a pixel.
SPAN_MARGIN = 1e-9
#: Faces with a coordinate beyond this scan whole box rows (no overflow in the spans).
SPAN_COORDINATE_LIMIT = 1e100


@ti.func
def _orientation(x0, y0, x1, y1, x2, y2, area2):
    """The sign of ``area2`` (the doubled signed area) when it is sure: 0 for a sliver
    (``|area2| <= SLIVER_RATIO`` x the longest edge squared) or a face with a
    coordinate beyond :data:`SPAN_COORDINATE_LIMIT` (float64)."""
    longest2 = ti.max((x1 - x0) ** 2 + (y1 - y0) ** 2, (x2 - x1) ** 2 + (y2 - y1) ** 2,
                      (x0 - x2) ** 2 + (y0 - y2) ** 2)
    big = ti.max(ti.abs(x0), ti.abs(y0), ti.abs(x1), ti.abs(y1), ti.abs(x2), ti.abs(y2))
    sure = ti.abs(area2) > SLIVER_RATIO * longest2 and big <= SPAN_COORDINATE_LIMIT
    return ti.select(sure, ti.select(area2 > 0.0, 1.0, -1.0), 0.0)


@ti.func
def _edge_bound(ax, ay, bx, by, sg, py, lo, hi, width):
    """``(lo, hi)`` (continuous columns) narrowed to where edge ``a -> b``'s function at
    row ``py``, ``e(px) = (bx - ax)(py - ay) - (by - ay)(px - ax)``, has ``sg * e >=
    -m``, ``m`` = :data:`SPAN_MARGIN` x its scale."""
    dx = bx - ax
    dy = by - ay
    m = SPAN_MARGIN * (ti.abs(dx) * (2.0 + ti.abs(ay)) + ti.abs(dy) * (2.0 + ti.abs(ax)))
    slope = -sg * dy  # d(sg * e) / d px
    rhs = -m - sg * (dx * (py - ay) + dy * ax)  # sg * e >= -m  <=>  slope * px >= rhs
    if slope > 0.0:
        lo = ti.max(lo, column_of(ti.math.clamp(rhs / slope, -3.0, 3.0), width))
    elif slope < 0.0:
        hi = ti.min(hi, column_of(ti.math.clamp(rhs / slope, -3.0, 3.0), width))
    elif rhs > 0.0:
        hi = -2.0  # the row lies outside this edge: nothing kept
    return lo, hi


@ti.func
def _row_columns(x0, y0, x1, y1, x2, y2, sg, py, j0, j1, width):
    """Columns ``[ja, jb)`` of box columns ``[j0, j1)`` in the row at screen ``py`` that
    can hold covered pixel centres: inside the three edges' half-planes widened by
    :func:`_edge_bound`'s margin (a superset of what :func:`edge_weights` covers), the
    whole ``[j0, j1)`` when ``sg == 0`` (:func:`_orientation`)."""
    lo = ti.cast(j0, ti.f64)
    hi = ti.cast(j1 - 1, ti.f64)
    if sg != 0.0:
        lo, hi = _edge_bound(x0, y0, x1, y1, sg, py, lo, hi, width)
        lo, hi = _edge_bound(x1, y1, x2, y2, sg, py, lo, hi, width)
        lo, hi = _edge_bound(x2, y2, x0, y0, sg, py, lo, hi, width)
    ja = ti.max(j0, ti.cast(ti.ceil(ti.min(lo, width + 1.0)), ti.i32))
    jb = ti.min(j1, ti.cast(ti.floor(ti.max(hi, -2.0)), ti.i32) + 1)
    return ja, jb


@ti.func
def _scan_columns(x0, y0, x1, y1, x2, y2, sg, py, j0, j1, width, spans: ti.template()):
    """The columns a face's scan visits in the row at screen ``py``: its box's
    ``[j0, j1)``, cut to :func:`_row_columns` when ``spans``."""
    ja, jb = j0, j1
    if ti.static(spans):
        ja, jb = _row_columns(x0, y0, x1, y1, x2, y2, sg, py, j0, j1, width)
    return ja, jb


@ti.kernel
def scan_pixel_counts(fv: ti.types.ndarray(), counts: ti.types.ndarray(), height: ti.i32,
                      width: ti.i32, spans: ti.template()):
    """``counts`` int64 [B, F]: the pixels :func:`_rasterize` visits per face of ``fv``
    [B, F, 3, 3] (0 for a zero-area face; else its box rows, cut to
    :func:`_row_columns` when ``spans``): the timing study's work count."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        x0, y0 = ti.cast(fv[b, f, 0, 0], ti.f64), ti.cast(fv[b, f, 0, 1], ti.f64)
        x1, y1 = ti.cast(fv[b, f, 1, 0], ti.f64), ti.cast(fv[b, f, 1, 1], ti.f64)
        x2, y2 = ti.cast(fv[b, f, 2, 0], ti.f64), ti.cast(fv[b, f, 2, 1], ti.f64)
        area2 = edge_function(x0, y0, x1, y1, x2, y2)
        n = 0
        if area2 != 0.0:
            i0, i1, j0, j1 = pixel_box(x0, y0, x1, y1, x2, y2, 0.0, 1, height, width)
            sg = _orientation(x0, y0, x1, y1, x2, y2, area2)
            for i in range(i0, i1):
                ja, jb = _scan_columns(x0, y0, x1, y1, x2, y2, sg, pixel_y(i, height), j0,
                                       j1, width, spans)
                n += ti.max(0, jb - ja)
        counts[b, f] = ti.cast(n, ti.i64)


@ti.func
def _rasterize_face(fv: ti.template(), out: ti.template(), b, f, height, width,
                    z_buffer: ti.template(), sv: ti.template(), faces: ti.template(),
                    indexed: ti.template(), spans: ti.template()):
    """Face ``(b, f)``'s pixels of :func:`_rasterize`: its bounding box scanned (each
    row cut to :func:`_row_columns` when ``spans``), each covered pixel written (1.0, or
    the z-buffer's atomic minimum).  Both writes give the same result in any order, so
    any split of the faces over threads gives the same bits.  Corners from
    :func:`_corner` (``indexed``: from ``sv`` and ``faces``)."""
    x0 = _corner(fv, sv, faces, b, f, 0, 0, indexed)
    y0 = _corner(fv, sv, faces, b, f, 0, 1, indexed)
    z0 = _corner(fv, sv, faces, b, f, 0, 2, indexed)
    x1 = _corner(fv, sv, faces, b, f, 1, 0, indexed)
    y1 = _corner(fv, sv, faces, b, f, 1, 1, indexed)
    z1 = _corner(fv, sv, faces, b, f, 1, 2, indexed)
    x2 = _corner(fv, sv, faces, b, f, 2, 0, indexed)
    y2 = _corner(fv, sv, faces, b, f, 2, 1, indexed)
    z2 = _corner(fv, sv, faces, b, f, 2, 2, indexed)
    area2 = edge_function(x0, y0, x1, y1, x2, y2)
    if area2 != 0.0:
        i0, i1, j0, j1 = pixel_box(x0, y0, x1, y1, x2, y2, 0.0, 1, height, width)
        sg = _orientation(x0, y0, x1, y1, x2, y2, area2)
        for i in range(i0, i1):
            py = pixel_y(i, height)
            ja, jb = _scan_columns(x0, y0, x1, y1, x2, y2, sg, py, j0, j1, width, spans)
            for j in range(ja, jb):
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


@ti.kernel
def _rasterize(fv: ti.types.ndarray(), out: ti.types.ndarray(), z_buffer: ti.template(),
               queue: ti.types.ndarray(), n_slots: ti.i32, queued: ti.template(),
               sv: ti.types.ndarray(), faces: ti.types.ndarray(), indexed: ti.template(),
               spans: ti.template()):
    """The one pixel loop of :func:`coverage` (``z_buffer`` False: ``out`` = silhouette)
    and :func:`nearest_face` (True: ``out`` = z-buffer keys); see those for the
    arguments.  ``queued`` (the CPU layout): tasks of (image, block of
    :data:`FACE_BLOCK` faces) drained by every thread from counter 0 of ``queue`` int32
    [>= 1] over ``n_slots`` iterations (:mod:`renderers.taichi_queue`); else one thread
    per (image, face) (``queue``, ``n_slots`` unused).  ``indexed``: the faces are
    gathered here from the vertices ``sv`` [B, V, 3] by int32 ``faces`` [F, 3] (indices
    checked in ``0..V-1`` by the caller) and ``fv`` is unused; else ``sv``, ``faces``
    are unused.  ``spans`` (``False`` only for tests): cut each box row to the columns
    that can be covered (:func:`_row_columns`); the same bits either way."""
    height = out.shape[1]
    width = out.shape[2]
    nb = out.shape[0]
    nf = fv.shape[1]
    if ti.static(indexed):
        nf = faces.shape[0]
    if ti.static(queued):
        blocks = (nf + FACE_BLOCK - 1) // FACE_BLOCK
        n_tasks = nb * blocks
        taichi_queue.reset(queue, 0)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                task = taichi_queue.take(queue, 0)
                while task < n_tasks:
                    b = task // blocks
                    f0 = (task % blocks) * FACE_BLOCK
                    for f in range(f0, ti.min(f0 + FACE_BLOCK, nf)):
                        _rasterize_face(fv, out, b, f, height, width, z_buffer, sv, faces,
                                        indexed, spans)
                    task = taichi_queue.take(queue, 0)
    else:
        for b, f in ti.ndrange(nb, nf):
            _rasterize_face(fv, out, b, f, height, width, z_buffer, sv, faces, indexed, spans)


def _launch(fv, out, z_buffer: bool, sv=None, faces=None, spans: bool = True) -> None:
    """:func:`_rasterize` with a task queue on the CPU (one thread per face elsewhere);
    with ``sv`` and ``faces`` the faces are gathered in the kernel (``fv`` unused);
    ``spans=False`` scans whole box rows (for tests)."""
    dev = out.device
    queued = dev.type == "cpu"
    queue = taichi_queue.counters(1, dev)
    indexed = faces is not None
    if indexed:
        fv = torch.empty(1, 1, 3, 3, dtype=sv.dtype, device=dev)
    else:
        sv = torch.empty(1, 1, 3, dtype=fv.dtype, device=dev)
        faces = torch.empty(1, 3, dtype=torch.int32, device=dev)
    _rasterize(fv, out, z_buffer, queue, taichi_queue.slots(), queued, sv, faces, indexed,
               spans)


def coverage(fv, out, spans: bool = True) -> None:
    """Hard silhouettes: ``out[b, i, j] = 1`` where pixel ``(i, j)`` is covered by a face
    of image ``b``.

    ``fv`` [B, F, 3, 3] screen space (x, y normalized; z unused); ``out`` [B, H, W]
    float, zero-initialised by the caller; only covered pixels are written.
    ``spans=False``: whole box rows scanned (tests: the same bits)."""
    _launch(fv, out, False, spans=spans)


def coverage_indexed(sv, faces, out) -> None:
    """:func:`coverage` of the faces ``sv[:, faces]`` gathered in the kernel: ``sv``
    [B, V, 3] screen-space vertices, ``faces`` int32 [F, 3] (F >= 1) with indices in
    ``0..V-1`` (checked by the caller: the kernel does not), ``out`` as there.  The same
    bits as the gather followed by :func:`coverage`."""
    _launch(None, out, False, sv, faces)


def nearest_face(fv, key, spans: bool = True) -> None:
    """z-buffer: ``key[b, i, j]`` = min over covering faces ``f`` of
    ``(float32 bits of depth) << 32 | f``.

    ``fv`` [B, F, 3, 3] screen space, z = camera depth > 0; ``key`` int64 [B, H, W]
    initialised to the int64 maximum by the caller (left there where nothing covers).
    Depth at a pixel is perspective-correct: ``1 / sum_k(w_k / z_k)`` with ``w`` the
    screen-space barycentric weights.  ``spans=False``: whole box rows scanned (tests)."""
    _launch(fv, key, True, spans=spans)


@ti.func
def _image_maps(key: ti.template(), face_index: ti.template(), silhouette: ti.template(),
                b, init: ti.template()):
    """Image ``b``'s pixels of :func:`nearest_face_maps`: ``init`` sets ``key`` to the
    int64 maximum; else ``face_index`` = the key's face (low 32 bits) or -1 where the key
    is still the maximum, and ``silhouette`` = 1 / 0 there."""
    for i in range(key.shape[1]):
        for j in range(key.shape[2]):
            if ti.static(init):
                key[b, i, j] = ti.i64(EMPTY_KEY)
            else:
                k = key[b, i, j]
                covered = k != ti.i64(EMPTY_KEY)
                face = ti.cast(k & ti.i64(0xFFFFFFFF), ti.i32)
                face_index[b, i, j] = ti.select(covered, face, -1)
                silhouette[b, i, j] = ti.select(covered, 1.0, 0.0)


@ti.kernel
def nearest_face_maps(fv: ti.types.ndarray(), key: ti.types.ndarray(),
                      face_index: ti.types.ndarray(), silhouette: ti.types.ndarray(),
                      queue: ti.types.ndarray(), n_slots: ti.i32):
    """CPU: the z-buffer of :func:`nearest_face` and its maps in one launch, every step
    drained by every thread from a task queue (:mod:`renderers.taichi_queue`; counters
    0-2 of ``queue`` int32 [>= 3], ``n_slots`` iterations): per image, ``key`` int64
    [B, H, W] (may come uninitialised) set to :data:`EMPTY_KEY`; per (image, block of
    :data:`FACE_BLOCK` faces), the faces' atomic minima; per image, ``face_index``
    int32 [B, H, W] (nearest face, -1 = background) and ``silhouette`` [B, H, W]
    (1 / 0, its own dtype).  The same values as :func:`nearest_face` followed by torch's
    ``where(key != EMPTY_KEY, key & 0xFFFFFFFF, -1)``."""
    height = key.shape[1]
    width = key.shape[2]
    nb = fv.shape[0]
    nf = fv.shape[1]
    blocks = (nf + FACE_BLOCK - 1) // FACE_BLOCK
    taichi_queue.reset(queue, 0)
    taichi_queue.reset(queue, 1)
    taichi_queue.reset(queue, 2)
    for slot in range(n_slots):
        if slot % taichi_queue.CHUNK == 0:
            b = taichi_queue.take(queue, 0)
            while b < nb:
                _image_maps(key, face_index, silhouette, b, True)
                b = taichi_queue.take(queue, 0)
    for slot in range(n_slots):
        if slot % taichi_queue.CHUNK == 0:
            task = taichi_queue.take(queue, 1)
            while task < nb * blocks:
                b = task // blocks
                f0 = (task % blocks) * FACE_BLOCK
                for f in range(f0, ti.min(f0 + FACE_BLOCK, nf)):
                    _rasterize_face(fv, key, b, f, height, width, True, fv, fv, False, True)
                task = taichi_queue.take(queue, 1)
    for slot in range(n_slots):
        if slot % taichi_queue.CHUNK == 0:
            b = taichi_queue.take(queue, 2)
            while b < nb:
                _image_maps(key, face_index, silhouette, b, False)
                b = taichi_queue.take(queue, 2)
