"""Taichi kernels of SoftRas silhouettes (Eq. 1-2 of the paper).

Layout of the computation (see :mod:`renderers.soft_math` for the formulas):

1. :func:`edge_lines` (one thread per face, float64): each face's three edges become
   lines ``(n_x, n_y, c, w_a, w_b)`` (exactly :func:`renderers.soft_math.edge_lines`), stored
   in the compute dtype as ``lines [B, F, 16]`` = 3 x 5 edge values, then ``1.0`` for a
   face with nonzero area (else ``0.0``: no inside).
2. :func:`soft_log_sum` (forward): one thread per face loops over
   the pixels of its bounding box grown by the cull radius
   ``sqrt(sigma * log(1/eps - 1))`` (computed from ``fv`` in float64, clamped to the
   image) and, for each pair that is inside or within the cull radius, atomically adds
   ``log(1 - D)`` into ``acc[b, i, j]``.  Per pair, in the compute dtype:
   ``s = n.p + c``, ``t = u.p`` with ``u = (n_y, -n_x)``,
   ``d_k^2 = s^2 + (min(t + w_a, 0) + max(t + w_b, 0))^2``, ``d^2 = min_k d_k^2``,
   inside = all three ``s`` of one sign (inclusive) and nonzero area.
3. :func:`soft_log_sum_backward` (hand-written adjoint of step 2, same loops): per face,
   the gradient of ``sum acc * grad_acc`` w.r.t. its 15 line values, summed in
   registers and written once (no atomics); ``lines_grad[..., 15] = 0``.
4. :func:`edge_lines_backward` (hand-written adjoint of step 1, float64, one thread
   per face, no atomics): ``lines_grad`` -> gradient w.r.t. ``fv``.

No Taichi autodiff is involved (its reverse mode would turn every load into an atomic
add, and it cannot differentiate the per-face pixel loops); both adjoints are checked
against central differences (``gradcheck``) in the tests.

Precision: the per-pair terms are relative to each edge's line, so float32 is accurate
even with far vertices (see :mod:`renderers.soft_math`); only the per-face setup needs
float64.  ``exp`` only sees ``-|z|``, so nothing overflows.  The compute dtype ``dt``
(``ti.f32`` or ``ti.f64``) is a template argument: ``lines`` and ``acc`` must have it;
every literal is cast to it (Taichi's ``default_fp`` is float64, so an uncast literal
would promote float32 arithmetic to float64).  ``fv`` may be float32 or float64.

Reproducibility: the per-pixel sums of the forward are parallel atomic adds, so their
rounding follows the thread order and repeated calls may differ in the last bits; the
backward is deterministic.
"""

import taichi as ti

from ..soft_math import LINE_OFFSET_LIMIT
from ..taichi_grid import face_pixel_box, pixel_x, pixel_y

#: Values per face in ``lines``: 3 edges x (n_x, n_y, c, w_a, w_b), then the area flag.
LINE_VALUES = 16


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


@ti.kernel
def edge_lines(fv: ti.types.ndarray(), lines: ti.types.ndarray()):
    """``fv`` [B, F, 3, 3] (float32/64) -> ``lines`` [B, F, 16] (module docstring),
    computed in float64 and rounded once to ``lines``' dtype."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
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


@ti.kernel
def soft_log_sum(fv: ti.types.ndarray(), lines: ti.types.ndarray(),
                 acc: ti.types.ndarray(), inv_sigma_: ti.f64, max_d2_: ti.f64,
                 radius: ti.f64, dt: ti.template()):
    """Accumulate ``acc[b, i, j] += log(1 - D)`` over the pairs within each face's grown
    bounding box (module docstring).  ``fv`` [B, F, 3, 3] (for the boxes); ``lines``
    [B, F, 16] from :func:`edge_lines`; ``acc`` [B, H, W] zero-initialised; ``lines``
    and ``acc`` in ``dt``; ``inv_sigma_`` = 1/sigma, ``max_d2_`` = ``radius``^2."""
    height = acc.shape[1]
    width = acc.shape[2]
    inv_sigma = ti.cast(inv_sigma_, dt)
    max_d2 = ti.cast(max_d2_, dt)
    zero = ti.cast(0, dt)
    one = ti.cast(1, dt)
    for b, f in ti.ndrange(lines.shape[0], lines.shape[1]):
        i0, i1, j0, j1 = face_pixel_box(fv, b, f, radius, 0, height, width)
        ln = _load_lines(lines, b, f, dt)
        for i in range(i0, i1):
            py = ti.cast(pixel_y(i, height), dt)
            for j in range(j0, j1):
                px = ti.cast(pixel_x(j, width), dt)
                z, keep, _k, _s, _e = _pair_z(ln, px, py, max_d2, inv_sigma, dt)
                if keep:
                    acc[b, i, j] += -(ti.max(z, zero) + ti.log(one + ti.exp(-ti.abs(z))))


@ti.kernel
def soft_log_sum_backward(fv: ti.types.ndarray(), lines: ti.types.ndarray(),
                          grad_acc: ti.types.ndarray(), lines_grad: ti.types.ndarray(),
                          inv_sigma_: ti.f64, max_d2_: ti.f64, radius: ti.f64,
                          dt: ti.template()):
    """``lines_grad[b, f]`` = d(sum grad_acc * acc) / d lines[b, f] for the ``acc`` of
    :func:`soft_log_sum` (same arguments; ``grad_acc`` [B, H, W] and ``lines_grad``
    [B, F, 16] in ``dt``; every entry is written).  ``d log(1 - sigmoid(z)) / dz =
    -sigmoid(z)``; ``d_k^2 = s^2 + e^2`` with ``s = n_x p_x + n_y p_y + c`` and
    ``e = min(t_a, 0) + max(t_b, 0)``, ``t_{a,b} = n_y p_x - n_x p_y + w_{a,b}``."""
    height = grad_acc.shape[1]
    width = grad_acc.shape[2]
    inv_sigma = ti.cast(inv_sigma_, dt)
    max_d2 = ti.cast(max_d2_, dt)
    zero = ti.cast(0, dt)
    one = ti.cast(1, dt)
    two = ti.cast(2, dt)
    for b, f in ti.ndrange(lines.shape[0], lines.shape[1]):
        i0, i1, j0, j1 = face_pixel_box(fv, b, f, radius, 0, height, width)
        ln = _load_lines(lines, b, f, dt)
        g = ti.Vector.zero(dt, LINE_VALUES)
        for i in range(i0, i1):
            py = ti.cast(pixel_y(i, height), dt)
            for j in range(j0, j1):
                px = ti.cast(pixel_x(j, width), dt)
                z, keep, kmin, s, e = _pair_z(ln, px, py, max_d2, inv_sigma, dt)
                if keep:
                    ez = ti.exp(-ti.abs(z))
                    sig = ti.select(z >= zero, one, ez) / (one + ez)
                    # d/d(d^2) of grad_acc * log(1 - sigmoid(+-d^2 / sigma))
                    gd = -grad_acc[b, i, j] * sig * ti.select(z >= zero, one, -one)
                    gd *= inv_sigma
                    gs = two * s * gd
                    ge = two * e * gd
                    for k in ti.static(range(3)):
                        if kmin == k:
                            t = ln[5 * k + 1] * px - ln[5 * k + 0] * py
                            g[5 * k + 0] += gs * px - ge * py
                            g[5 * k + 1] += gs * py + ge * px
                            g[5 * k + 2] += gs
                            g[5 * k + 3] += ti.select(t + ln[5 * k + 3] < zero, ge, zero)
                            g[5 * k + 4] += ti.select(t + ln[5 * k + 4] > zero, ge, zero)
        for k in ti.static(range(LINE_VALUES)):
            lines_grad[b, f, k] = g[k]


@ti.kernel
def edge_lines_backward(fv: ti.types.ndarray(), lines_grad: ti.types.ndarray(),
                        fv_grad: ti.types.ndarray()):
    """Hand-written adjoint of :func:`edge_lines` (float64; one thread per face, no
    atomics): ``fv_grad`` [B, F, 3, 3] (every entry written; z gets 0) from
    ``lines_grad`` [B, F, 16].  With ``u = (n_y, -n_x) = (b - a) / L``, the gradient
    w.r.t. ``u`` maps to ``b - a`` as ``(g_u - u (u . g_u)) / L`` (0 when ``L = 0``);
    a clamped offset passes no gradient."""
    for b, f in ti.ndrange(fv.shape[0], fv.shape[1]):
        lim = LINE_OFFSET_LIMIT
        xs = ti.Vector([ti.cast(fv[b, f, k, 0], ti.f64) for k in ti.static(range(3))])
        ys = ti.Vector([ti.cast(fv[b, f, k, 1], ti.f64) for k in ti.static(range(3))])
        gx = ti.Vector([0.0, 0.0, 0.0])
        gy = ti.Vector([0.0, 0.0, 0.0])
        for k in ti.static(range(3)):
            k1 = (k + 1) % 3
            ax, ay, bx, by = xs[k], ys[k], xs[k1], ys[k1]
            inv_len, nx, ny = _unit_normal(ax, ay, bx, by)
            gnx = ti.cast(lines_grad[b, f, 5 * k + 0], ti.f64)
            gny = ti.cast(lines_grad[b, f, 5 * k + 1], ti.f64)
            gc = ti.cast(lines_grad[b, f, 5 * k + 2], ti.f64)
            gwa = ti.cast(lines_grad[b, f, 5 * k + 3], ti.f64)
            gwb = ti.cast(lines_grad[b, f, 5 * k + 4], ti.f64)
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
            fv_grad[b, f, k, 0] = gx[k]
            fv_grad[b, f, k, 1] = gy[k]
            fv_grad[b, f, k, 2] = 0.0
