"""Taichi kernel of the N3MR approximate silhouette gradient (Kato et al. 2018, Sec. 3.3).

The forward pass is the hard rasterizer's z-buffer
(:func:`renderers.hard.kernels.nearest_face`); this module holds only the backward
rule.  See :mod:`renderers.n3mr` for the rule and its mapping onto this project's
pixel convention.
"""

import taichi as ti

from .. import taichi_queue
from ..hard.kernels import column_of, edge_function, row_of

#: Faces per task of the CPU backward (:func:`approximate_gradient`, ``queued``).
FACE_BLOCK = 32


@ti.func
def _vertex_gradients(dv: ti.f64, t_a: ti.f64, t_b: ti.f64, inward: ti.i32, scale: ti.f64,
                      eps: ti.f64, diff: ti.f64):
    """Gradient contributions to the edge's endpoints a and b for one pixel.

    ``dv``: pixel offset (in pixels along the moving axis) by which the edge's crossing
    must move to reach the pixel centre; ``t_a``, ``t_b``: the endpoints' linear
    weights at the scanline (a vertex moves the crossing by ``t`` times its own
    displacement); ``inward``: direction used when ``dv == 0``; ``scale``: screen
    units per pixel along the axis (signed: rows run against y); ``diff`` > 0: the
    loss decrease ``-dL`` when the pixel flips.  Returns ``(dL/da, dL/db)`` =
    ``-diff / dist`` with ``dist`` the vertex displacement in screen units, pushed
    ``eps`` away from zero."""
    sgn = 1.0
    if dv < 0 or (dv == 0 and inward < 0):
        sgn = -1.0
    if scale < 0:
        sgn = -sgn
    ga = 0.0
    gb = 0.0
    if t_a != 0:
        ga = -diff / ((ti.abs(dv) / t_a * ti.abs(scale) + eps) * sgn)
    if t_b != 0:
        gb = -diff / ((ti.abs(dv) / t_b * ti.abs(scale) + eps) * sgn)
    return ga, gb


#: Jump-table directions (:func:`out_jumps`): ``2 * axis + (outward > 0)``.
JUMP_DIRECTIONS = 4


@ti.func
def _contributes(alpha: ti.template(), grad_alpha: ti.template(), b, i, j):
    """Whether pixel ``(b, i, j)`` adds to an out-scan of a binary silhouette: the face
    owning ``v_in`` has ``alpha[v_in] = 1``, so the flip's loss decrease
    ``(alpha - 1) * grad_alpha`` is positive iff ``alpha == 0`` and ``grad_alpha < 0``
    (a NaN gradient is neither, as in :func:`_pixel_term`)."""
    return alpha[b, i, j] == 0 and grad_alpha[b, i, j] < 0


@ti.kernel
def out_jumps(alpha: ti.types.ndarray(), grad_alpha: ti.types.ndarray(),
              nxt: ti.types.ndarray()):
    """Jump table of the out-scans for a binary ``alpha`` [B, H, W] (values 0 and 1 only)
    and ``grad_alpha`` [B, H, W]: ``nxt`` int32 [B, 4, H, W] (output) holds, for direction
    ``d = 2 * axis + (outward > 0)`` (:func:`approximate_gradient`'s (scan, move) frame:
    ``axis`` 0 moves along the rows of a column, 1 along the columns of a row), the first
    pixel coordinate ``v`` at or after pixel ``(i, j)`` in that direction that
    :func:`_contributes` (its row for ``axis`` 0, its column for ``axis`` 1), or ``-1`` /
    ``H`` or ``W`` (one past the image border) when none does.  One thread per (image,
    direction, line)."""
    height = alpha.shape[1]
    width = alpha.shape[2]
    for b, d, line in ti.ndrange(alpha.shape[0], JUMP_DIRECTIONS, ti.max(height, width)):
        axis = d // 2
        step = 2 * (d % 2) - 1
        n_u, n_v = width, height  # axis 0: lines are columns, v runs over rows
        if axis == 1:
            n_u, n_v = height, width
        if line < n_u:
            last = ti.select(step > 0, n_v, -1)  # one past the border, scan direction
            for s in range(n_v):
                v = n_v - 1 - s  # walk against the scan direction
                if step < 0:
                    v = s
                i, j = _pixel(line, v, axis)
                if _contributes(alpha, grad_alpha, b, i, j):
                    last = v
                nxt[b, d, i, j] = last


@ti.kernel
def approximate_gradient(fv: ti.types.ndarray(), face_index: ti.types.ndarray(),
                         alpha: ti.types.ndarray(), grad_alpha: ti.types.ndarray(),
                         grad_fv: ti.types.ndarray(), eps: ti.f64, nxt: ti.types.ndarray(),
                         jumps: ti.template(), queue: ti.types.ndarray(), n_slots: ti.i32,
                         queued: ti.template()):
    """Accumulate the N3MR gradient ``dL/d face_vertices`` (x and y only) into ``grad_fv``.

    ``fv`` [B, F, 3, 3] screen space; ``face_index`` int32 [B, H, W] (z-buffer, -1 =
    background); ``alpha`` [B, H, W] the forward silhouettes; ``grad_alpha`` [B, H, W]
    = dL/d alpha; ``grad_fv`` float64 [B, F, 3, 3] (output, every entry written; z
    gets 0); ``eps`` > 0 screen units added to every displacement.

    Per face (:func:`_face_gradient`): its three edges, each along both axes
    (:func:`_edge_gradient`); a corner's two terms per axis are summed in registers and
    stored once, no atomics (a sum of two terms onto zero does not depend on their
    order, so this equals the former atomic adds of one thread per edge and axis bit
    for bit).  ``queued`` (the CPU layout): one task per (image, block of
    :data:`FACE_BLOCK` faces), drained by every thread from counter 0 of ``queue`` int32
    [>= 1] over ``n_slots`` iterations (:mod:`renderers.taichi_queue`); else one thread
    per face (``queue``, ``n_slots`` unused).  ``axis == 0`` moves vertices along y
    (scan the edge column by column, move along the rows), ``axis == 1`` along x (scan
    row by row, move along the columns).  In the (u = scan, v = move) pixel frame:
    for every scanline u crossing the edge a -> b at ``vc``, with ``v_in`` / ``v_out``
    the pixels just inside / outside the face (both in the image):

    * out (the edge grows over pixels): when the face owns ``v_in``, every pixel v from
      ``v_out`` to the image border outwards would take the value ``alpha[v_in]``;
    * in (the edge shrinks): every pixel v from ``v_in`` inwards that the face owns
      would take the value ``alpha[v_out]``;

    a flip of pixel v from ``alpha[v]`` to ``new`` changes the loss by
    ``grad_alpha[v] * (new - alpha[v])``; only flips that lower the loss count, and
    each adds ``dL / dist`` to the endpoint moved by ``dist``.

    ``jumps`` (for a binary ``alpha`` only: the backward of :class:`N3MRRasterize`):
    each out-scan visits only the pixels that add to it, found through ``nxt`` from
    :func:`out_jumps`, instead of every pixel to the border; the others add exactly 0,
    so the sums are bit-identical.  Else ``nxt`` is unused (any [1, 1, 1, 1] array).
    Both ways each scanline's terms are added in scan order (a ``while`` loop: LLVM's
    fast-math reassociates the sum of a counted loop, which moved float64 gradients by
    about 1e-14 between the two).
    """
    if ti.static(queued):
        nf = fv.shape[1]
        blocks = (nf + FACE_BLOCK - 1) // FACE_BLOCK
        taichi_queue.reset(queue, 0)
        for slot in range(n_slots):
            if slot % taichi_queue.CHUNK == 0:
                task = taichi_queue.take(queue, 0)
                while task < fv.shape[0] * blocks:
                    b = task // blocks
                    blk = task % blocks
                    for f in range(blk * FACE_BLOCK, ti.min(blk * FACE_BLOCK + FACE_BLOCK, nf)):
                        _face_gradient(fv, face_index, alpha, grad_alpha, grad_fv, nxt, b, f,
                                       eps, jumps)
                    task = taichi_queue.take(queue, 0)
    else:
        for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
            _face_gradient(fv, face_index, alpha, grad_alpha, grad_fv, nxt, b, f, eps, jumps)


@ti.func
def _face_gradient(fv: ti.template(), face_index: ti.template(), alpha: ti.template(),
                   grad_alpha: ti.template(), grad_fv: ti.template(), nxt: ti.template(), b,
                   f, eps, jumps: ti.template()):
    """Face ``(b, f)``'s part of :func:`approximate_gradient`: its three edges along both
    axes (:func:`_edge_gradient`), each corner's two terms per axis summed in registers
    (``+ 0.0`` for the other edges' is exact), then ``grad_fv[b, f]`` written once."""
    gx = ti.Vector([0.0, 0.0, 0.0])
    gy = ti.Vector([0.0, 0.0, 0.0])
    for e in ti.static(range(3)):
        for axis in ti.static(range(2)):
            ka, kb, ga, gb = _edge_gradient(fv, face_index, alpha, grad_alpha, nxt, b, f, e,
                                            axis, eps, jumps)
            for k in ti.static(range(3)):
                add = ti.select(ka == k, ga, 0.0) + ti.select(kb == k, gb, 0.0)
                if ti.static(axis == 0):
                    gy[k] += add
                else:
                    gx[k] += add
    for k in ti.static(range(3)):
        grad_fv[b, f, k, 0] = gx[k]
        grad_fv[b, f, k, 1] = gy[k]
        grad_fv[b, f, k, 2] = 0.0


@ti.func
def _edge_gradient(fv: ti.template(), face_index: ti.template(), alpha: ti.template(),
                   grad_alpha: ti.template(), nxt: ti.template(), b, f, e, axis, eps,
                   jumps: ti.template()):
    """Edge ``e`` (corners ``e -> e + 1``) of face ``(b, f)`` scanned along ``axis``
    (:func:`approximate_gradient`): ``(ka, kb, ga, gb)``, the gradients ``ga``, ``gb``
    of corners ``ka``, ``kb`` along the moving axis (y for ``axis`` 0, x for 1)."""
    height = alpha.shape[1]
    width = alpha.shape[2]
    ka = e
    kb = (e + 1) % 3
    kc = (e + 2) % 3
    xa = ti.cast(fv[b, f, ka, 0], ti.f64)
    ya = ti.cast(fv[b, f, ka, 1], ti.f64)
    xb = ti.cast(fv[b, f, kb, 0], ti.f64)
    yb = ti.cast(fv[b, f, kb, 1], ti.f64)
    xc = ti.cast(fv[b, f, kc, 0], ti.f64)
    yc = ti.cast(fv[b, f, kc, 1], ti.f64)
    area2 = edge_function(xa, ya, xb, yb, xc, yc)
    au, av, bu, bv, cu, cv = _scan_move(xa, ya, xb, yb, xc, yc, axis, height, width)
    n_u, n_v, scale = height, width, 2.0 / width  # axis 1: move along x
    if axis == 0:  # move along y: scan the columns, screen y per row
        n_u, n_v, scale = width, height, -2.0 / height
    ga = 0.0
    gb = 0.0
    if au > bu:
        # scan from the endpoint with the smaller u: the same arithmetic for both
        # directions of an edge, so either winding gives bit-identical gradients
        ka, kb = kb, ka
        au, bu = bu, au
        av, bv = bv, av
    if area2 != 0.0 and au != bu:
        # the third vertex (hence the inside) lies at larger v iff orient / (bu - au) > 0
        orient = (bu - au) * (cv - av) - (bv - av) * (cu - au)
        outward = 1
        if orient * (bu - au) > 0:
            outward = -1
        u_lo, u_hi, v_far = _scan_bounds(au, av, bu, bv, cv, -outward, n_u, n_v)
        for u in range(u_lo, u_hi + 1):
            da, db = _scanline(face_index, alpha, grad_alpha, nxt, b, f, u, axis, au, av,
                               bu, bv, n_v, outward, v_far, scale, eps, jumps)
            ga += da
            gb += db
    return ka, kb, ga, gb


@ti.func
def _scan_bounds(au, av, bu, bv, cv, inward, n_u, n_v):
    """The scanlines ``u_lo..u_hi`` (in the image) an edge ``a -> b`` crosses, and
    ``v_far``, the farthest pixel its face can own along the ``inward`` direction
    (in the (scan, move) frame of :func:`approximate_gradient`)."""
    u_lo = ti.max(0, ti.cast(ti.ceil(ti.max(ti.min(au, bu), -1.0)), ti.i32))
    u_hi = ti.min(n_u - 1, ti.cast(ti.floor(ti.min(ti.max(au, bu), n_u + 0.0)), ti.i32))
    v_far = 0
    if inward > 0:
        v_far = ti.min(n_v - 1, ti.cast(ti.floor(ti.min(ti.max(av, bv, cv), n_v + 0.0)), ti.i32))
    else:
        v_far = ti.max(0, ti.cast(ti.ceil(ti.max(ti.min(av, bv, cv), -1.0)), ti.i32))
    return u_lo, u_hi, v_far


@ti.func
def _scan_move(xa, ya, xb, yb, xc, yc, axis, height, width):
    """The triangle's vertices in (u = scan, v = move) pixel coordinates, pixel centres
    at integers: ``axis == 0`` scans columns and moves along rows, ``axis == 1`` scans
    rows and moves along columns."""
    au, av = row_of(ya, height), column_of(xa, width)
    bu, bv = row_of(yb, height), column_of(xb, width)
    cu, cv = row_of(yc, height), column_of(xc, width)
    if axis == 0:
        au, av = column_of(xa, width), row_of(ya, height)
        bu, bv = column_of(xb, width), row_of(yb, height)
        cu, cv = column_of(xc, width), row_of(yc, height)
    return au, av, bu, bv, cu, cv


@ti.func
def _pixel(u, v, axis):
    """Image ``(row, column)`` of the (scan, move) pixel ``(u, v)``."""
    i, j = v, u
    if axis == 1:
        i, j = u, v
    return i, j


@ti.func
def _pixel_term(alpha: ti.template(), grad_alpha: ti.template(), b, i, j, alpha_ref, dv,
                t_a, t_b, inward, scale, eps):
    """One scanned pixel's contribution ``(dL/da, dL/db)`` for both rules: the loss
    decrease ``(alpha[b, i, j] - alpha_ref) * grad_alpha[b, i, j]`` if the edge moved to
    cover (out) or uncover (in) it, when positive (:func:`_vertex_gradients`), else 0."""
    diff = (ti.cast(alpha[b, i, j], ti.f64) - alpha_ref) * ti.cast(grad_alpha[b, i, j],
                                                                  ti.f64)
    da = 0.0
    db = 0.0
    if diff > 0:
        da, db = _vertex_gradients(dv, t_a, t_b, inward, scale, eps, diff)
    return da, db


@ti.func
def _scanline(face_index: ti.template(), alpha: ti.template(), grad_alpha: ti.template(),
              nxt: ti.template(), b, f, u, axis, au, av, bu, bv, n_v, outward, v_far, scale,
              eps, jumps: ti.template()):
    """Gradient contributions ``(dL/da, dL/db)`` of one scanline ``u`` crossing the edge
    a -> b (the out and in rules of :func:`approximate_gradient`; ``jumps``: the out
    rule visits only the pixels ``nxt`` lists)."""
    inward = -outward
    t_a = (bu - u) / (bu - au)
    t_b = (u - au) / (bu - au)
    vc = av + (bv - av) * t_b
    vc_clamped = ti.math.clamp(vc, -2.0, n_v + 1.0)
    v_in = ti.cast(ti.floor(vc_clamped), ti.i32)
    if outward < 0:
        v_in = ti.cast(ti.ceil(vc_clamped), ti.i32)
    v_out = v_in + outward
    ga = 0.0
    gb = 0.0
    if 0 <= v_in < n_v and 0 <= v_out < n_v:
        i_in, j_in = _pixel(u, v_in, axis)
        i_out, j_out = _pixel(u, v_out, axis)
        alpha_in = ti.cast(alpha[b, i_in, j_in], ti.f64)
        alpha_out = ti.cast(alpha[b, i_out, j_out], ti.f64)
        # out: the face grows over the pixels beyond its edge
        if face_index[b, i_in, j_in] == f:
            if ti.static(jumps):
                d = 2 * axis + ti.select(outward > 0, 1, 0)
                v = nxt[b, d, i_out, j_out]
                while 0 <= v < n_v:
                    i, j = _pixel(u, v, axis)
                    da, db = _pixel_term(alpha, grad_alpha, b, i, j, alpha_in, v - vc, t_a,
                                         t_b, inward, scale, eps)
                    ga += da
                    gb += db
                    after = v + outward
                    v = -1  # past the border: the scan ends
                    if 0 <= after < n_v:
                        i, j = _pixel(u, after, axis)
                        v = nxt[b, d, i, j]
            else:
                v_end = 0
                if outward > 0:
                    v_end = n_v - 1
                v = v_out - outward
                while v != v_end:  # a while loop: summed in order, as with ``jumps``
                    v += outward
                    i, j = _pixel(u, v, axis)
                    da, db = _pixel_term(alpha, grad_alpha, b, i, j, alpha_in, v - vc, t_a,
                                         t_b, inward, scale, eps)
                    ga += da
                    gb += db
        # in: the face shrinks off the pixels it owns behind its edge
        for s in range(ti.max(0, (v_far - v_in) * inward + 1)):
            v = v_in + s * inward
            i, j = _pixel(u, v, axis)
            if face_index[b, i, j] == f:
                da, db = _pixel_term(alpha, grad_alpha, b, i, j, alpha_out, v - vc, t_a, t_b,
                                     inward, scale, eps)
                ga += da
                gb += db
    return ga, gb
