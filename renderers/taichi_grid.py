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
