"""The pixel grid of :mod:`renderers.grid` as Taichi functions, for every kernel.

Pixel ``(i, j)`` of an ``H x W`` image has its centre at ``x = (2j + 1 - W) / W``,
``y = (H - 1 - 2i) / H`` (row 0 = top, y = +1 side; column 0 = left).
"""

import taichi as ti


@ti.func
def pixel_x(j: ti.i32, width: ti.i32) -> ti.f64:
    """Screen x of the centre of column ``j`` (see :mod:`renderers.grid`)."""
    return (2.0 * j + 1.0 - width) / width


@ti.func
def pixel_y(i: ti.i32, height: ti.i32) -> ti.f64:
    """Screen y of the centre of row ``i`` (row 0 = top, y = +1 side)."""
    return (height - 1.0 - 2.0 * i) / height


@ti.func
def column_of(x: ti.f64, width: ti.i32) -> ti.f64:
    """Continuous column of screen ``x`` (column ``j``'s centre at ``j``)."""
    return (x * width + width - 1.0) / 2.0


@ti.func
def row_of(y: ti.f64, height: ti.i32) -> ti.f64:
    """Continuous row of screen ``y`` (row ``i``'s centre at ``i``)."""
    return (height - 1.0 - y * height) / 2.0


@ti.func
def pixel_box(x0: ti.f64, y0: ti.f64, x1: ti.f64, y1: ti.f64, x2: ti.f64, y2: ti.f64,
              radius: ti.f64, slack: ti.i32, height: ti.i32, width: ti.i32):
    """The one pixel-box rule of every kernel: the half-open pixel rectangle
    ``[i0, i1) x [j0, j1)`` (rows, then columns) of the pixel centres inside the
    triangle's screen bounding box grown by ``radius`` (normalized screen units), then
    by ``slack`` whole pixels each side (against rounding), clamped to the image (empty
    when ``i0 >= i1`` or ``j0 >= j1``).  float64; the continuous rows / columns are
    clamped to ``[-1 - slack, size + 1 + slack]`` before the integer cast, so huge
    coordinates cannot overflow and the clamp never changes the rectangle."""
    lo = -1.0 - slack
    c0 = ti.math.clamp(column_of(ti.min(x0, x1, x2) - radius, width), lo, width + 1.0 + slack)
    c1 = ti.math.clamp(column_of(ti.max(x0, x1, x2) + radius, width), lo, width + 1.0 + slack)
    r0 = ti.math.clamp(row_of(ti.max(y0, y1, y2) + radius, height), lo, height + 1.0 + slack)
    r1 = ti.math.clamp(row_of(ti.min(y0, y1, y2) - radius, height), lo, height + 1.0 + slack)
    i0 = ti.max(0, ti.cast(ti.ceil(r0), ti.i32) - slack)
    i1 = ti.min(height, ti.cast(ti.floor(r1), ti.i32) + 1 + slack)
    j0 = ti.max(0, ti.cast(ti.ceil(c0), ti.i32) - slack)
    j1 = ti.min(width, ti.cast(ti.floor(c1), ti.i32) + 1 + slack)
    return i0, i1, j0, j1


@ti.func
def face_pixel_box(fv: ti.template(), b, f, radius, slack, height, width):
    """:func:`pixel_box` of face ``(b, f)`` of ``fv`` [B, F, 3, 3] (screen space, float32
    or float64, read as float64)."""
    return pixel_box(ti.cast(fv[b, f, 0, 0], ti.f64), ti.cast(fv[b, f, 0, 1], ti.f64),
                     ti.cast(fv[b, f, 1, 0], ti.f64), ti.cast(fv[b, f, 1, 1], ti.f64),
                     ti.cast(fv[b, f, 2, 0], ti.f64), ti.cast(fv[b, f, 2, 1], ti.f64),
                     radius, slack, height, width)
