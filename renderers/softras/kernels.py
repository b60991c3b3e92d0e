"""Taichi kernels of SoftRas silhouettes (Eq. 1-2 of the paper).

Layout of the computation (see :mod:`renderers.soft_math` for the formulas):

1. :func:`_write_lines` (per face, float64): each face's three edges become
   lines ``(n_x, n_y, c, w_a, w_b)`` (exactly :func:`renderers.soft_math.edge_lines`), stored
   in the compute dtype as ``lines [B, F, 16]`` = 3 x 5 edge values, then ``1.0`` for a
   face with nonzero area (else ``0.0``: no inside).  Done inside :func:`soft_log_sum`
   by the thread that then adds the face (the kernel :func:`edge_lines` does it alone).
2. :func:`soft_log_sum` (forward): per face, the pixels of its bounding box grown by the
   cull radius ``sqrt(sigma * log(1/eps - 1))`` (from ``fv`` in float64, clamped to the
   image), each row cut to the span inside the three edge lines shifted out by that
   radius (:func:`_row_span`, float64, a margin above rounding); for each pair that is
   inside or within the cull radius it adds ``log(1 - D)`` into ``acc[b, i, j]``.  On the
   CPU one task per (image, band of rows) loops over the image's faces in order and adds
   the rows of each that lie in its band (plain adds; each pixel's faces in face order),
   on CUDA one thread per face (atomic adds).  Per pair, in the compute dtype:
   ``s = n.p + c``, ``t = u.p`` with ``u = (n_y, -n_x)``,
   ``d_k^2 = s^2 + (min(t + w_a, 0) + max(t + w_b, 0))^2``, ``d^2 = min_k d_k^2``,
   inside = all three ``s`` of one sign (inclusive) and nonzero area.  A face's first
   ``cap`` pairs also go to a pair cache (``+-sigmoid(z)`` and the nearest edge).
3. :func:`soft_log_sum_backward` (hand-written adjoint of step 2, same pixels): per
   face, the gradient of ``sum acc * grad_acc`` w.r.t. its 15 line values, summed in
   registers (no atomics); cached pairs recompute only their nearest edge's ``s`` and
   ``e``; then, in the same thread, :func:`_lines_backward` (hand-written adjoint of
   step 1, float64) turns them into the gradient w.r.t. ``fv``, written once.

One kernel launch per pass (the lines are not a separate launch either way): each
launch wakes the thread pool and ends at a barrier.  On the CPU the work is handed out
as it runs, from task queues (:mod:`renderers.taichi_queue`): Taichi 1.7 splits a plain
range-for into one static chunk per thread of at least 512 iterations, so the forward's
512 band tasks (paper setting) ran on one thread and a descheduled thread held the
backward's half.  The CPU forward first sets up blocks of :data:`FACE_BLOCK` faces
(lines, boxes, the rows each block spans; one task per block), then adds one (image,
band of ``BAND_ROWS`` rows) per task; the backward takes one (image, block of faces)
per task.

No Taichi autodiff is involved (its reverse mode would turn every load into an atomic
add, and it cannot differentiate the per-face pixel loops); both adjoints are checked
against central differences (``gradcheck``) in the tests.  For comparison, the
``backward="autodiff"`` option differentiates the same forward with Taichi's reverse
mode instead: :func:`edge_lines` and :func:`soft_pair_terms` (one flat loop over every
pixel of every grown box, listed by :func:`renderers.face_boxes.candidate_pairs`).

Precision: the per-pair terms are relative to each edge's line, so float32 is accurate
even with far vertices (see :mod:`renderers.soft_math`); only the per-face setup needs
float64.  ``exp`` only sees ``-|z|``, so nothing overflows.  The compute dtype ``dt``
(``ti.f32`` or ``ti.f64``) is a template argument: ``lines`` and ``acc`` must have it;
every literal is cast to it (Taichi's ``default_fp`` is float64, so an uncast literal
would promote float32 arithmetic to float64).  ``fv`` may be float32 or float64.

Reproducibility: on the CPU both passes are deterministic and independent of the thread
count and the band height; on CUDA the forward's per-pixel sums are parallel atomic
adds, so their rounding follows the thread order.

Speed (CPU): the code is scalar (Taichi's CPU backend emits no SIMD for these loops;
``exp``/``log`` are libm calls); an inline polynomial ``exp`` and branch-free 0/1 edge
masks were tried and measured slower.
"""

import taichi as ti

from .. import taichi_queue
from ..soft_math import LINE_OFFSET_LIMIT
from ..taichi_grid import face_pixel_box, pixel_x, pixel_y

#: Values per face in ``lines``: 3 edges x (n_x, n_y, c, w_a, w_b), then the area flag.
LINE_VALUES = 16
#: Relative margin of :func:`_span_lines` (per unit of ``|c| + 2``): far above the
#: rounding of float32 lines and pair arithmetic (about 1e-7), far below a pixel.
SPAN_MARGIN = 1e-5
#: Faces with ``|doubled area| <= SLIVER_RATIO * longest edge^2`` get no row spans (their
#: orientation could be lost to float64 rounding); far below any visible triangle.
SLIVER_RATIO = 1e-10
#: Faces per block of the CPU forward's row index (:func:`soft_log_sum`): a band task
#: skips a block whose faces' boxes all miss its rows with one test (mesh faces come in
#: spatially coherent order, so most blocks miss most bands).
FACE_BLOCK = 32


@ti.func
def _unit_normal(ax, ay, bx, by):
    """Edge ``e = b - a`` as ``(inv_len, nx, ny)``: ``1 / |e|`` (0 for a zero-length
    edge) and its unit left normal ``(-ey, ex) / |e|`` (``(1, 0)`` for a zero-length
    edge); the one rule of the setup and its adjoint."""
    ex = bx - ax
    ey = by - ay
    len2 = ex * ex + ey * ey
    pos = len2 > 0
    inv_len = ti.select(pos, 1.0 / ti.sqrt(ti.select(pos, len2, 1.0)), 0.0)
    nx = ti.select(pos, -ey * inv_len, 1.0)
    ny = ti.select(pos, ex * inv_len, 0.0)
    return inv_len, nx, ny


@ti.func
def _write_lines(fv: ti.template(), lines: ti.template(), b, f):
    """Face ``(b, f)``'s ``lines[b, f, :]`` from ``fv`` (module docstring, step 1),
    computed in float64 and rounded once to ``lines``' dtype."""
    lim = LINE_OFFSET_LIMIT
    xs = ti.Vector([ti.cast(fv[b, f, k, 0], ti.f64) for k in ti.static(range(3))])
    ys = ti.Vector([ti.cast(fv[b, f, k, 1], ti.f64) for k in ti.static(range(3))])
    for k in ti.static(range(3)):
        ax, ay = xs[k], ys[k]
        bx, by = xs[(k + 1) % 3], ys[(k + 1) % 3]
        _inv_len, nx, ny = _unit_normal(ax, ay, bx, by)
        lines[b, f, 5 * k + 0] = nx
        lines[b, f, 5 * k + 1] = ny
        lines[b, f, 5 * k + 2] = ti.math.clamp(-(nx * ax + ny * ay), -lim, lim)
        lines[b, f, 5 * k + 3] = ti.math.clamp(-(ny * ax - nx * ay), -lim, lim)
        lines[b, f, 5 * k + 4] = ti.math.clamp(-(ny * bx - nx * by), -lim, lim)
    area2 = (xs[1] - xs[0]) * (ys[2] - ys[0]) - (xs[2] - xs[0]) * (ys[1] - ys[0])
    lines[b, f, 15] = ti.select(area2 != 0, 1.0, 0.0)


@ti.kernel
def edge_lines(fv: ti.types.ndarray(), lines: ti.types.ndarray()):
    """``fv`` [B, F, 3, 3] (float32/64) -> ``lines`` [B, F, 16] (module docstring),
    computed in float64 and rounded once to ``lines``' dtype (:func:`soft_log_sum`
    computes them itself; this kernel serves the pair count and the autodiff option)."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        _write_lines(fv, lines, b, f)


@ti.func
def _face_box(fv: ti.template(), b, f, radius, height, width):
    """Half-open pixel rectangle ``(i0, i1, j0, j1)`` of face ``(b, f)``'s bounding box
    grown by ``radius`` (:func:`renderers.taichi_grid.face_pixel_box`, the one box rule,
    no slack), and ``sg``, the sign of its doubled signed area (0 for a degenerate face
    or a sliver whose area is below ``SLIVER_RATIO`` x its longest edge squared);
    float64."""
    i0, i1, j0, j1 = face_pixel_box(fv, b, f, radius, 0, height, width)
    x0 = ti.cast(fv[b, f, 0, 0], ti.f64)
    x1 = ti.cast(fv[b, f, 1, 0], ti.f64)
    x2 = ti.cast(fv[b, f, 2, 0], ti.f64)
    y0 = ti.cast(fv[b, f, 0, 1], ti.f64)
    y1 = ti.cast(fv[b, f, 1, 1], ti.f64)
    y2 = ti.cast(fv[b, f, 2, 1], ti.f64)
    area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    longest2 = ti.max((x1 - x0) ** 2 + (y1 - y0) ** 2, (x2 - x1) ** 2 + (y2 - y1) ** 2,
                      (x0 - x2) ** 2 + (y0 - y2) ** 2)
    sure = ti.abs(area2) > SLIVER_RATIO * longest2  # the orientation's sign is exact
    sg = ti.select(sure, ti.select(area2 > 0, 1.0, -1.0), 0.0)
    return i0, i1, j0, j1, sg


@ti.func
def _span_lines(lnd, sg, radius, width):
    """Per face, the three column bounds of :func:`_row_span` as functions of a row's
    screen y: ``(u, v, kind)`` (3-vectors, float64); edge ``k`` bounds the kept columns
    ``j`` of row ``y`` by ``j >= u_k + v_k y`` (``kind_k = 1``) or ``j <= u_k + v_k y``
    (``kind_k = -1``); a horizontal edge (``kind_k = 0``) keeps the row only if
    ``u_k + v_k y >= 0``.  Edge ``k`` keeps the pixels with ``sg * s_k >= -radius -
    SPAN_MARGIN * (|c_k| + 2)``, ``s_k = n_x x + n_y y + c`` and ``x = (2j + 1 - W) / W``:
    the inner side of its line shifted outward by ``radius``, plus a margin far above
    the rounding of float32 lines and per-pair arithmetic."""
    u = ti.Vector([0.0, 0.0, 0.0])
    v = ti.Vector([0.0, 0.0, 0.0])
    kind = ti.Vector([0.0, 0.0, 0.0])
    for k in ti.static(range(3)):
        c = lnd[5 * k + 2]
        slope = sg * lnd[5 * k + 0] * 2.0 / width  # d(sg * s_k) / dj
        q0 = sg * (c + lnd[5 * k + 0] * (1.0 - width) / width) + radius \
            + SPAN_MARGIN * (ti.abs(c) + 2.0)
        qy = sg * lnd[5 * k + 1]
        flat = slope == 0.0
        kind[k] = ti.select(slope > 0.0, 1.0, ti.select(slope < 0.0, -1.0, 0.0))
        inv = 1.0 / ti.select(flat, 1.0, slope)
        u[k] = ti.select(flat, q0, -q0 * inv)
        v[k] = ti.select(flat, qy, -qy * inv)
    return u, v, kind


@ti.func
def _row_span(u, v, kind, sg, py, j0, j1, width):
    """Half-open column range ``(ja, jb)`` within ``[j0, j1)`` of the row at screen y
    ``py`` that can hold pairs :func:`_pair_z` keeps: the pixels inside all three edge
    lines shifted outward by the cull radius (bounds of :func:`_span_lines`; a convex
    superset of the face grown by that radius); the whole ``[j0, j1)`` for a degenerate
    face or sliver (``sg = 0``).  Float64, no division."""
    lo = ti.cast(j0, ti.f64)
    hi = ti.cast(j1 - 1, ti.f64)
    if sg != 0.0:
        for k in ti.static(range(3)):
            bound = u[k] + v[k] * py
            lo = ti.max(lo, ti.select(kind[k] > 0.0, bound, -2.0))
            hi = ti.min(hi, ti.select(kind[k] < 0.0, bound, width + 1.0))
            hi = ti.select(kind[k] == 0.0, ti.select(bound < 0.0, -2.0, hi), hi)
        lo = ti.min(lo, width + 1.0)
        hi = ti.max(hi, -2.0)
    ja = ti.max(j0, ti.cast(ti.ceil(lo), ti.i32))
    jb = ti.min(j1, ti.cast(ti.floor(hi), ti.i32) + 1)
    return ja, jb


@ti.func
def _pair_z(ln, px, py, max_d2, inv_sigma, dt: ti.template()):
    """Per pair: ``(z, keep, kmin, s, e)`` with ``z = +-d^2 / sigma``, ``keep`` = inside
    or ``d^2 < max_d2``, ``kmin`` the nearest edge, and that edge's ``s`` (signed
    distance to the line) and ``e`` (excess along it beyond the segment)."""
    zero = ti.cast(0, dt)
    s = ti.Vector([ln[5 * k + 0] * px + ln[5 * k + 1] * py + ln[5 * k + 2]
                   for k in ti.static(range(3))])
    e = ti.Vector([zero, zero, zero])
    for k in ti.static(range(3)):
        t = ln[5 * k + 1] * px - ln[5 * k + 0] * py
        e[k] = ti.min(t + ln[5 * k + 3], zero) + ti.max(t + ln[5 * k + 4], zero)
    d = s * s + e * e
    kmin = ti.select(d[0] <= d[1] and d[0] <= d[2], 0, ti.select(d[1] <= d[2], 1, 2))
    dist2 = ti.min(d[0], d[1], d[2])
    inside = (ti.min(s[0], s[1], s[2]) >= zero or ti.max(s[0], s[1], s[2]) <= zero) \
        and ln[15] != zero
    keep = inside or dist2 < max_d2
    z = ti.select(inside, dist2, -dist2) * inv_sigma
    sk = ti.select(kmin == 0, s[0], ti.select(kmin == 1, s[1], s[2]))
    ek = ti.select(kmin == 0, e[0], ti.select(kmin == 1, e[1], e[2]))
    return z, keep, kmin, sk, ek


@ti.func
def _load_lines(lines: ti.template(), b, f, dt: ti.template()):
    return ti.Vector([lines[b, f, k] for k in ti.static(range(LINE_VALUES))], dt=dt)


@ti.func
def _face_lines(lines: ti.template(), b, f, sg, radius, width, dt: ti.template()):
    """Face ``(b, f)``'s line values in ``dt`` and its row-span bounds
    (:func:`_span_lines`, from the float64 line values; ``sg`` from :func:`_face_box`):
    ``(ln, u, v, kind)``."""
    ln = _load_lines(lines, b, f, dt)
    u, v, kind = _span_lines(_load_lines(lines, b, f, ti.f64), sg, radius, width)
    return ln, u, v, kind


@ti.func
def _face_setup(fv: ti.template(), lines: ti.template(), b, f, radius, height, width,
                dt: ti.template()):
    """Face ``(b, f)``'s pixel box and area sign (:func:`_face_box`), then
    :func:`_face_lines`: ``(i0, i1, j0, j1, sg, ln, u, v, kind)``."""
    i0, i1, j0, j1, sg = _face_box(fv, b, f, radius, height, width)
    ln, u, v, kind = _face_lines(lines, b, f, sg, radius, width, dt)
    return i0, i1, j0, j1, sg, ln, u, v, kind


@ti.func
def _row_range(centers: ti.template(), u, v, kind, sg, i, j0, j1, width,
               spans: ti.template(), dt: ti.template()):
    """Row ``i``'s screen y in ``dt`` (from ``centers``, :func:`soft_log_sum`) and its
    column range ``[ja, jb)``: the box's ``[j0, j1)``, cut to :func:`_row_span` when
    ``spans``."""
    py64 = centers[width + i]
    ja, jb = j0, j1
    if ti.static(spans):
        ja, jb = _row_span(u, v, kind, sg, py64, j0, j1, width)
    return ti.cast(py64, dt), ja, jb


@ti.func
def _slots_before(centers: ti.template(), u, v, kind, sg, i0, i1, j0, j1, lo, cap, width,
                  spans: ti.template()):
    """Pairs face ``(i0, i1, j0, j1, sg, u, v, kind)`` visits in its rows above row
    ``lo`` (the first pair-cache slot of its rows from ``lo`` on): the same row ranges
    as :func:`_add_face_rows`, counted only while below ``cap``."""
    slot = 0
    for i in range(i0, ti.min(lo, i1)):
        if slot < cap:
            _py, ja, jb = _row_range(centers, u, v, kind, sg, i, j0, j1, width, spans, ti.f64)
            slot += ti.max(0, jb - ja)
    return slot


@ti.func
def _add_face_rows(lines: ti.template(), acc: ti.template(), cache_w: ti.template(),
                   cache_k: ti.template(), centers: ti.template(), cap, b, f, box, sg, lo,
                   hi, inv_sigma, max_d2, radius, spans: ti.template(), atomic: ti.template(),
                   dt: ti.template()):
    """Add face ``(b, f)``'s ``log(1 - D)`` into rows ``[lo, hi)`` of ``acc[b]`` over the
    pixels of its grown box (``box`` = ``(i0, i1, j0, j1)`` and ``sg`` from
    :func:`_face_box`; each row cut to :func:`_row_span` when ``spans``), with
    atomic adds when ``atomic`` (several threads may hold faces of one image), else
    plain ones.  Pair cache (:func:`soft_log_sum`): the face's ``n``-th visited pair,
    counted from its box's first row whatever ``lo`` is, goes to slot ``n`` if ``n <
    cap``, so any split of the rows fills the same slots with the same values."""
    width = acc.shape[2]
    zero = ti.cast(0, dt)
    one = ti.cast(1, dt)
    i0, i1, j0, j1 = box[0], box[1], box[2], box[3]
    ln, u, v, kind = _face_lines(lines, b, f, sg, radius, width, dt)
    slot = 0
    if cap > 0:
        slot = _slots_before(centers, u, v, kind, sg, i0, i1, j0, j1, lo, cap, width, spans)
    for i in range(ti.max(i0, lo), ti.min(i1, hi)):
        py, ja, jb = _row_range(centers, u, v, kind, sg, i, j0, j1, width, spans, dt)
        for j in range(ja, jb):
            px = ti.cast(centers[j], dt)  # a table read: no division per pair
            z, keep, kmin, _s, _e = _pair_z(ln, px, py, max_d2, inv_sigma, dt)
            w = zero
            if keep:
                ez = ti.exp(-ti.abs(z))
                val = -(ti.max(z, zero) + ti.log(one + ez))
                if ti.static(atomic):
                    acc[b, i, j] += val
                else:
                    acc[b, i, j] = acc[b, i, j] + val
                if slot < cap:
                    sig = ti.select(z >= zero, one, ez) / (one + ez)
                    w = ti.select(z >= zero, sig, -sig)
            if slot < cap:
                cache_w[b, f, slot] = w
                cache_k[b, f, slot] = ti.cast(kmin, ti.i8)
            slot += 1


@ti.func
def _setup_face_block(fv: ti.template(), lines: ti.template(), face_box: ti.template(),
                      block_rows: ti.template(), sv: ti.template(), faces: ti.template(),
                      b, blk, radius, height, width, indexed: ti.template()):
    """Faces ``blk * FACE_BLOCK ...`` of image ``b``: with ``indexed``, first their
    vertices ``fv[b, f, k] = sv[b, faces[f, k]]`` (the gather, copied exactly); then
    their lines (:func:`_write_lines`), boxes ``face_box[b, f] = (i0, i1, j0, j1, sg)``
    (:func:`_face_box`; ``sg`` as an int) and the rows their nonempty boxes span
    together, ``block_rows[b, blk] = (lo, hi)`` (``(height, 0)`` when none)."""
    lo = height
    hi = 0
    for f in range(blk * FACE_BLOCK, ti.min(blk * FACE_BLOCK + FACE_BLOCK, lines.shape[1])):
        if ti.static(indexed):
            for k in ti.static(range(3)):
                vi = faces[f, k]
                for c in ti.static(range(3)):
                    fv[b, f, k, c] = sv[b, vi, c]
        _write_lines(fv, lines, b, f)
        i0, i1, j0, j1, sg = _face_box(fv, b, f, radius, height, width)
        face_box[b, f, 0] = i0
        face_box[b, f, 1] = i1
        face_box[b, f, 2] = j0
        face_box[b, f, 3] = j1
        face_box[b, f, 4] = ti.cast(sg, ti.i32)
        if i0 < i1 and j0 < j1:
            lo = ti.min(lo, i0)
            hi = ti.max(hi, i1)
    block_rows[b, blk, 0] = lo
    block_rows[b, blk, 1] = hi


@ti.func
def _add_band(lines: ti.template(), acc: ti.template(), cache_w: ti.template(),
              cache_k: ti.template(), face_box: ti.template(), block_rows: ti.template(),
              centers: ti.template(), cap, b, lo, hi, inv_sigma, max_d2, radius,
              spans: ti.template(), dt: ti.template()):
    """One band task of the CPU forward: add, in face order, rows ``[lo, hi)`` of every
    face of image ``b`` whose box meets them (:func:`_add_face_rows`, plain adds),
    skipping the blocks of :data:`FACE_BLOCK` faces whose rows miss the band."""
    nf = lines.shape[1]
    for blk in range((nf + FACE_BLOCK - 1) // FACE_BLOCK):
        if block_rows[b, blk, 0] < hi and block_rows[b, blk, 1] > lo:
            for f in range(blk * FACE_BLOCK, ti.min(blk * FACE_BLOCK + FACE_BLOCK, nf)):
                if ti.max(face_box[b, f, 0], lo) < ti.min(face_box[b, f, 1], hi):
                    box = ti.Vector([face_box[b, f, k] for k in ti.static(range(4))])
                    _add_face_rows(lines, acc, cache_w, cache_k, centers, cap, b, f, box,
                                   ti.cast(face_box[b, f, 4], ti.f64), lo, hi,
                                   inv_sigma, max_d2, radius, spans, False, dt)


@ti.kernel
def soft_log_sum(fv: ti.types.ndarray(), lines: ti.types.ndarray(),
                 acc: ti.types.ndarray(), cache_w: ti.types.ndarray(),
                 cache_k: ti.types.ndarray(), face_box: ti.types.ndarray(),
                 block_rows: ti.types.ndarray(), queue: ti.types.ndarray(), n_slots: ti.i32,
                 cap: ti.i32, inv_sigma_: ti.f64, max_d2_: ti.f64, radius: ti.f64,
                 band_rows: ti.i32, dt: ti.template(), banded: ti.template(),
                 spans: ti.template(), sv: ti.types.ndarray(), faces: ti.types.ndarray(),
                 indexed: ti.template(), centers: ti.types.ndarray()):
    """Accumulate ``acc[b, i, j] += log(1 - D)`` over the pairs within each face's grown
    bounding box (module docstring).  ``fv`` [B, F, 3, 3]; ``lines`` [B, F, 16]
    (output: each face's lines, :func:`edge_lines`, written in this launch, so no
    separate one); ``acc`` [B, H, W] zero-initialised; ``lines`` and ``acc`` in ``dt``;
    ``inv_sigma_`` = 1/sigma, ``max_d2_`` = ``radius``^2.
    Pair cache for the backward: the ``n``-th pair a face visits (rows top to bottom,
    columns left to right), ``n < cap``, stores ``cache_w[b, f, n]`` (``dt``) =
    ``+-sigmoid(z)`` (sign of ``z``; 0 for a culled pair) and ``cache_k[b, f, n]``
    (int8) = its nearest edge; both [B, F, >= cap] (``cap = 0``: no cache, any [1, 1,
    1] arrays).
    ``banded`` (the CPU layout): first every face's lines and box (``face_box`` int32
    [B, F, 5] = ``(i0, i1, j0, j1, sg)`` of :func:`_face_box`, and ``block_rows`` int32
    [B, ceil(F / FACE_BLOCK), 2], the rows each block of faces spans; outputs; one task
    per block), then one task per (image, band of ``band_rows`` rows) adds, in face
    order, the rows in its band of every face whose box meets it (:func:`_add_band`):
    plain adds, each pixel's faces in order whatever ``band_rows`` and the thread count
    (bit-reproducible).  Both task lists are drained by every thread from the
    counters ``queue`` int32 [>= 2] over ``n_slots`` iterations
    (:mod:`renderers.taichi_queue`).  Else one thread per face (atomic adds; for the
    GPU; ``face_box``, ``block_rows``, ``queue``, ``n_slots`` and ``band_rows``
    unused).  ``spans``: cut each box row to :func:`_row_span` (``False`` only for
    tests).  ``indexed`` (``banded`` only): ``fv`` is an output, gathered in the setup
    tasks from the vertices ``sv`` [B, V, 3] (``fv``'s dtype) and int32 ``faces`` [F,
    3] (indices checked in ``0..V-1`` by the caller), so no ``[B, F, 3, 3]`` gather
    runs before the launch; else ``fv`` is the input (``sv``, ``faces``: any [1, 1, 3]
    / [1, 3] arrays)."""
    inv_sigma = ti.cast(inv_sigma_, dt)
    max_d2 = ti.cast(max_d2_, dt)
    height = acc.shape[1]
    width = acc.shape[2]
    if ti.static(banded):
        nb = lines.shape[0]
        blocks = (lines.shape[1] + FACE_BLOCK - 1) // FACE_BLOCK
        bands = (height + band_rows - 1) // band_rows
        taichi_queue.reset(queue, 0)
        taichi_queue.reset(queue, 1)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                task = taichi_queue.take(queue, 0)
                while task < nb * blocks:
                    _setup_face_block(fv, lines, face_box, block_rows, sv, faces,
                                      task // blocks, task % blocks, radius, height, width,
                                      indexed)
                    task = taichi_queue.take(queue, 0)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                task = taichi_queue.take(queue, 1)
                while task < nb * bands:
                    lo = (task % bands) * band_rows
                    _add_band(lines, acc, cache_w, cache_k, face_box, block_rows, centers, cap,
                              task // bands, lo, ti.min(lo + band_rows, height), inv_sigma,
                              max_d2, radius, spans, dt)
                    task = taichi_queue.take(queue, 1)
    else:
        for b, f in ti.ndrange(lines.shape[0], lines.shape[1]):
            _write_lines(fv, lines, b, f)
            i0, i1, j0, j1, sg = _face_box(fv, b, f, radius, height, width)
            _add_face_rows(lines, acc, cache_w, cache_k, centers, cap, b, f,
                           ti.Vector([i0, i1, j0, j1]), sg, 0, height, inv_sigma, max_d2,
                           radius, spans, True, dt)


@ti.func
def _edge_grad(g, ln, k: ti.template(), px, py, s, e, gd, dt: ti.template()):
    """``g`` plus the gradient of ``gd * d_k^2`` w.r.t. edge ``k``'s line values, for the
    pair at ``(px, py)`` whose nearest edge ``k`` has ``s``, ``e`` (:func:`_pair_z`)."""
    zero = ti.cast(0, dt)
    gs = ti.cast(2, dt) * s * gd
    ge = ti.cast(2, dt) * e * gd
    t = ln[5 * k + 1] * px - ln[5 * k + 0] * py
    g[5 * k + 0] += gs * px - ge * py
    g[5 * k + 1] += gs * py + ge * px
    g[5 * k + 2] += gs
    g[5 * k + 3] += ti.select(t + ln[5 * k + 3] < zero, ge, zero)
    g[5 * k + 4] += ti.select(t + ln[5 * k + 4] > zero, ge, zero)
    return g


@ti.func
def _cached_pair_grad(g, ln, w, kmin, px, py, ga, inv_sigma, dt: ti.template()):
    """:func:`_edge_grad` for a cached pair (``w = +-sigmoid(z)``, nearest edge
    ``kmin``): only that edge's ``s`` and ``e`` are recomputed, as in :func:`_pair_z`."""
    zero = ti.cast(0, dt)
    gd = -ga * w
    gd *= inv_sigma
    for k in ti.static(range(3)):
        if kmin == k:
            s = ln[5 * k + 0] * px + ln[5 * k + 1] * py + ln[5 * k + 2]
            t = ln[5 * k + 1] * px - ln[5 * k + 0] * py
            e = ti.min(t + ln[5 * k + 3], zero) + ti.max(t + ln[5 * k + 4], zero)
            g = _edge_grad(g, ln, k, px, py, s, e, gd, dt)
    return g


@ti.func
def _face_grad(fv: ti.template(), lines: ti.template(), grad_acc: ti.template(),
               fv_grad: ti.template(), cache_w: ti.template(), cache_k: ti.template(),
               centers: ti.template(), cap, b, f, inv_sigma, max_d2, radius,
               spans: ti.template(), dt: ti.template(), corner_major: ti.template()):
    """Face ``(b, f)``'s part of :func:`soft_log_sum_backward`: its line gradient summed
    in registers over its pairs (cached ones from the pair cache), then taken through
    :func:`_lines_backward` into ``fv_grad[b, f]`` (``fv_grad[f, :, b]`` when
    ``corner_major``)."""
    height = grad_acc.shape[1]
    width = grad_acc.shape[2]
    zero = ti.cast(0, dt)
    one = ti.cast(1, dt)
    i0, i1, j0, j1, sg, ln, u, v, kind = _face_setup(fv, lines, b, f, radius, height,
                                                     width, dt)
    g = ti.Vector.zero(dt, LINE_VALUES)
    slot = 0
    for i in range(i0, i1):
        py, ja, jb = _row_range(centers, u, v, kind, sg, i, j0, j1, width, spans, dt)
        for j in range(ja, jb):
            px = ti.cast(centers[j], dt)
            if slot < cap:
                w = cache_w[b, f, slot]
                if w != zero:
                    g = _cached_pair_grad(g, ln, w, ti.cast(cache_k[b, f, slot], ti.i32),
                                          px, py, grad_acc[b, i, j], inv_sigma, dt)
            else:
                z, keep, kmin, s, e = _pair_z(ln, px, py, max_d2, inv_sigma, dt)
                if keep:
                    ez = ti.exp(-ti.abs(z))
                    sig = ti.select(z >= zero, one, ez) / (one + ez)
                    # d/d(d^2) of grad_acc * log(1 - sigmoid(+-d^2 / sigma))
                    gd = -grad_acc[b, i, j] * sig * ti.select(z >= zero, one, -one)
                    gd *= inv_sigma
                    for k in ti.static(range(3)):
                        if kmin == k:
                            g = _edge_grad(g, ln, k, px, py, s, e, gd, dt)
            slot += 1
    _lines_backward(fv, g, fv_grad, b, f, corner_major)  # lines gradient -> vertices


@ti.kernel
def soft_log_sum_backward(fv: ti.types.ndarray(), lines: ti.types.ndarray(),
                          grad_acc: ti.types.ndarray(), fv_grad: ti.types.ndarray(),
                          cache_w: ti.types.ndarray(), cache_k: ti.types.ndarray(),
                          queue: ti.types.ndarray(), n_slots: ti.i32, cap: ti.i32,
                          inv_sigma_: ti.f64, max_d2_: ti.f64, radius: ti.f64,
                          dt: ti.template(), queued: ti.template(), spans: ti.template(),
                          corner_major: ti.template(), centers: ti.types.ndarray()):
    """``fv_grad[b, f]`` = d(sum grad_acc * acc) / d fv[b, f] for the ``acc`` of
    :func:`soft_log_sum` (same arguments and pair cache; ``grad_acc`` [B, H, W] in
    ``dt``; ``fv_grad`` [B, F, 3, 3] like ``fv``, every entry written): per face, the
    gradient w.r.t. its 16 line values is summed in registers, then taken through the
    adjoint of the line setup (:func:`_lines_backward`) in the same thread
    (:func:`_face_grad`).  ``d log(1 - sigmoid(z)) / dz = -sigmoid(z)``; ``d_k^2 = s^2 +
    e^2`` with ``s = n_x p_x + n_y p_y + c`` and ``e = min(t_a, 0) + max(t_b, 0)``,
    ``t_{a,b} = n_y p_x - n_x p_y + w_{a,b}``.  A face's first ``cap`` pairs come from
    the cache, the rest are recomputed.  ``queued`` (the CPU layout): one task per
    (image, block of :data:`FACE_BLOCK` faces), drained by every thread from counter 0
    of ``queue`` over ``n_slots`` iterations (:mod:`renderers.taichi_queue`); else one
    thread per face (``queue`` and ``n_slots`` unused).  ``corner_major``: ``fv_grad``
    is [F, 3, B, 3] instead (``fv_grad[f, k, b]``: a row per face corner, the layout
    the vertex gradient's ``index_add_`` sums, so no transposed copy is made)."""
    inv_sigma = ti.cast(inv_sigma_, dt)
    max_d2 = ti.cast(max_d2_, dt)
    if ti.static(queued):
        nf = lines.shape[1]
        blocks = (nf + FACE_BLOCK - 1) // FACE_BLOCK
        taichi_queue.reset(queue, 0)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                task = taichi_queue.take(queue, 0)
                while task < lines.shape[0] * blocks:
                    b = task // blocks
                    blk = task % blocks
                    for f in range(blk * FACE_BLOCK, ti.min(blk * FACE_BLOCK + FACE_BLOCK, nf)):
                        _face_grad(fv, lines, grad_acc, fv_grad, cache_w, cache_k, centers,
                                   cap, b, f, inv_sigma, max_d2, radius, spans, dt,
                                   corner_major)
                    task = taichi_queue.take(queue, 0)
    else:
        for b, f in ti.ndrange(lines.shape[0], lines.shape[1]):
            _face_grad(fv, lines, grad_acc, fv_grad, cache_w, cache_k, centers, cap, b, f,
                       inv_sigma, max_d2, radius, spans, dt, corner_major)


@ti.kernel
def soft_pair_terms(lines: ti.types.ndarray(), pair_face: ti.types.ndarray(),
                    rows: ti.types.ndarray(), cols: ti.types.ndarray(),
                    vals: ti.types.ndarray(), inv_sigma_: ti.f64, max_d2_: ti.f64,
                    height: ti.i32, width: ti.i32, dt: ti.template()):
    """The forward of :func:`soft_log_sum` as one flat loop over listed pixel-face pairs,
    for Taichi's reverse mode (``soft_pair_terms.grad``, the ``backward="autodiff"``
    option): ``vals[p]`` = ``log(1 - D)`` of pair ``p`` (face ``pair_face[p]`` =
    ``b * F + f`` of ``lines`` [B, F, 16], pixel ``(rows[p], cols[p])``), 0 for a
    culled pair; the same per-pair arithmetic (:func:`_pair_z`) in ``dt``.  No inner
    loop with a data-dependent bound (Taichi 1.7.4's reverse mode fails on those); the
    reverse mode adds every pair's gradient into its face's ``lines.grad`` with atomic
    adds (not bit-reproducible)."""
    for p in range(pair_face.shape[0]):  # the only top-level statement (reverse mode)
        inv_sigma = ti.cast(inv_sigma_, dt)
        max_d2 = ti.cast(max_d2_, dt)
        zero = ti.cast(0, dt)
        one = ti.cast(1, dt)
        bf = pair_face[p]
        ln = _load_lines(lines, bf // lines.shape[1], bf % lines.shape[1], dt)
        px = ti.cast(pixel_x(0, width) + cols[p] * (2.0 / width), dt)  # = pixel_x(cols[p])
        py = ti.cast(pixel_y(rows[p], height), dt)
        z, keep, _kmin, _s, _e = _pair_z(ln, px, py, max_d2, inv_sigma, dt)
        val = -(ti.max(z, zero) + ti.log(one + ti.exp(-ti.abs(z))))
        vals[p] = ti.select(keep, val, zero)


@ti.kernel
def pair_counts(fv: ti.types.ndarray(), lines: ti.types.ndarray(),
                counts: ti.types.ndarray(), radius: ti.f64, height: ti.i32, width: ti.i32,
                centers: ti.types.ndarray()):
    """``counts`` int64 [B, F]: the pairs :func:`soft_log_sum` evaluates per face (the
    pixels of its grown box's rows cut to :func:`_row_span`, each row's y read from the
    same pixel-centre table ``centers``; for the timing study's work count); ``lines``
    from :func:`edge_lines`."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        i0, i1, j0, j1, sg = _face_box(fv, b, f, radius, height, width)
        u, v, kind = _span_lines(_load_lines(lines, b, f, ti.f64), sg, radius, width)
        n = 0
        for i in range(i0, i1):
            ja, jb = _row_span(u, v, kind, sg, centers[width + i], j0, j1, width)
            n += ti.max(0, jb - ja)
        counts[b, f] = ti.cast(n, ti.i64)


@ti.func
def _lines_backward(fv: ti.template(), g, fv_grad: ti.template(), b, f,
                    corner_major: ti.template()):
    """Hand-written adjoint of :func:`_write_lines` (float64, no atomics): writes
    ``fv_grad[b, f]`` (``fv_grad[f, :, b]`` when ``corner_major``; every entry, z
    gets 0) from ``g``, the gradient w.r.t.
    ``lines[b, f]`` (16 values).  With ``u = (n_y, -n_x) = (b - a) / L``, the gradient
    w.r.t. ``u`` maps to ``b - a`` as ``(g_u - u (u . g_u)) / L`` (0 when ``L = 0``);
    a clamped offset passes no gradient."""
    lim = LINE_OFFSET_LIMIT
    xs = ti.Vector([ti.cast(fv[b, f, k, 0], ti.f64) for k in ti.static(range(3))])
    ys = ti.Vector([ti.cast(fv[b, f, k, 1], ti.f64) for k in ti.static(range(3))])
    gx = ti.Vector([0.0, 0.0, 0.0])
    gy = ti.Vector([0.0, 0.0, 0.0])
    for k in ti.static(range(3)):
        k1 = (k + 1) % 3
        ax, ay, bx, by = xs[k], ys[k], xs[k1], ys[k1]
        inv_len, nx, ny = _unit_normal(ax, ay, bx, by)
        gnx = ti.cast(g[5 * k + 0], ti.f64)
        gny = ti.cast(g[5 * k + 1], ti.f64)
        gc = ti.cast(g[5 * k + 2], ti.f64)
        gwa = ti.cast(g[5 * k + 3], ti.f64)
        gwb = ti.cast(g[5 * k + 4], ti.f64)
        gc = ti.select(ti.abs(nx * ax + ny * ay) <= lim, gc, 0.0)
        gwa = ti.select(ti.abs(ny * ax - nx * ay) <= lim, gwa, 0.0)
        gwb = ti.select(ti.abs(ny * bx - nx * by) <= lim, gwb, 0.0)
        # c = -(n . a), w_a = -(u . a), w_b = -(u . b): direct terms
        gx[k] += -gc * nx - gwa * ny
        gy[k] += -gc * ny + gwa * nx
        gx[k1] += -gwb * ny
        gy[k1] += gwb * nx
        # ... and through n (as u = (n_y, -n_x)) into e = b - a
        gnx += -gc * ax + gwa * ay + gwb * by
        gny += -gc * ay - gwa * ax - gwb * bx
        gux = gny
        guy = -gnx
        proj = ny * gux - nx * guy
        gex = (gux - ny * proj) * inv_len
        gey = (guy + nx * proj) * inv_len
        gx[k1] += gex
        gy[k1] += gey
        gx[k] -= gex
        gy[k] -= gey
    for k in ti.static(range(3)):
        if ti.static(corner_major):
            fv_grad[f, k, b, 0] = gx[k]
            fv_grad[f, k, b, 1] = gy[k]
            fv_grad[f, k, b, 2] = 0.0
        else:
            fv_grad[b, f, k, 0] = gx[k]
            fv_grad[b, f, k, 1] = gy[k]
            fv_grad[b, f, k, 2] = 0.0
