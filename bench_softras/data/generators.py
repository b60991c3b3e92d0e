"""Procedural stand-ins for the 13 ShapeNet categories: seeded parametric assemblies of
closed parts (boxes, tapered boxes, cylinders, frusta, ellipsoids, plates).

Each generator draws its proportions, part counts and styles from a
``numpy.random.Generator``; thin parts (legs, wings, slats, masts) are deliberate.
Frame: ``+y`` up, the object's front faces ``-z`` (towards the camera of benchmark
view 0), sizes in arbitrary units; :func:`generate` normalizes the result like
ShapeNet (bounding box centred, diagonal 1, hence inside ``[-0.5, 0.5]^3``).
numpy only: this module never imports a renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .categories import CATEGORIES, class_id_of
from .shapes import (
    Mesh,
    box,
    cylinder,
    ellipsoid,
    loft,
    merge,
    normalize,
    rotation_x,
    rotation_z,
    segment,
    tapered_box,
)

#: Bumped whenever any generator's output changes (it is part of the cache key).
GENERATOR_VERSION = "1"

Generator = Callable[[np.random.Generator], list[Mesh]]


def plate(polygon: np.ndarray, thickness: float, plane: str = "xz",
          offset: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
    """A flat solid of ``thickness`` whose outline is the star-shaped ``polygon``
    ``[n, 2]``.  ``plane`` "xz": polygon coordinates are (x, z), thickness along y;
    "zy": coordinates are (z, y), thickness along x; "xy": (x, y), thickness along z."""
    poly = np.asarray(polygon, dtype=np.float64)
    slab = loft(poly, poly, -thickness / 2, thickness / 2)  # (x, z) plane, thick in y
    if plane == "xz":
        m = np.eye(3)
    elif plane == "zy":  # (u, v) -> (z=u, y=v): map x->z, z->y, y->x
        m = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    elif plane == "xy":  # (u, v) -> (x=u, y=v): map z->y, y->z (a reflection, fixed below)
        m = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    else:
        raise ValueError(f"plane must be 'xz', 'zy' or 'xy', got {plane!r}")
    return slab.transformed(m, offset)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _legs(rng, half_x, half_z, top_y, radius, square, splay=0.0, bottom_y=0.0):
    """Four legs from the corners (inset) at ``top_y`` to the floor, splayed outward."""
    legs = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            top = (sx * half_x, top_y, sz * half_z)
            bot = (sx * (half_x + splay), bottom_y, sz * (half_z + splay))
            legs.append(segment(bot, top, radius, square=square))
    return legs


def chair(rng: np.random.Generator) -> list[Mesh]:
    """Seat, four legs / a swivel column with a star base, slatted or solid back,
    optional armrests."""
    w, d = _u(rng, 0.40, 0.60), _u(rng, 0.40, 0.58)
    seat_y, seat_t = _u(rng, 0.38, 0.50), _u(rng, 0.03, 0.08)
    parts = [box((w, seat_t, d), (0, seat_y, 0))]
    under = seat_y - seat_t / 2
    style = rng.integers(3)
    if style < 2:
        r = _u(rng, 0.015, 0.035)
        parts += _legs(rng, w / 2 - r - 0.01, d / 2 - r - 0.01, under + 0.01, r,
                       square=style == 0, splay=_u(rng, 0.0, 0.05))
    else:
        col_r = _u(rng, 0.025, 0.05)
        parts.append(cylinder(col_r, under - 0.05, (0, (under + 0.05) / 2 + 0.0, 0),
                              segments=12))
        n_arms, reach = int(rng.integers(4, 6)), _u(rng, 0.22, 0.32)
        for k in range(n_arms):
            a = 2 * np.pi * k / n_arms
            parts.append(segment((0, 0.06, 0), (reach * np.cos(a), 0.02, reach * np.sin(a)),
                                 0.018, square=True))
    back_h, back_t = _u(rng, 0.30, 0.60), _u(rng, 0.025, 0.06)
    tilt = _u(rng, 0.0, 15.0)
    back = []
    n_slats = int(rng.integers(0, 5))
    top = seat_y + seat_t / 2
    if n_slats == 0:
        back.append(box((w, back_h, back_t), (0, back_h / 2, 0)))
    else:
        post = _u(rng, 0.02, 0.035)
        for sx in (-1, 1):
            back.append(box((2 * post, back_h, back_t), (sx * (w / 2 - post), back_h / 2, 0)))
        rail = _u(rng, 0.04, 0.08)
        back.append(box((w, rail, back_t), (0, back_h - rail / 2, 0)))
        span = w - 4 * post
        slat_w = min(span / (2 * n_slats), _u(rng, 0.02, 0.06))
        for k in range(n_slats):
            x = -span / 2 + (k + 0.5) * span / n_slats
            back.append(box((slat_w, back_h - rail, back_t * 0.8), (x, (back_h - rail) / 2, 0)))
    for b in back:
        parts.append(b.transformed(rotation_x(-tilt), (0, top, d / 2 - back_t / 2)))
    if rng.random() < 0.3:
        arm_y = top + _u(rng, 0.15, 0.25)
        arm_w = _u(rng, 0.03, 0.06)
        for sx in (-1, 1):
            x = sx * (w / 2 - arm_w / 2)
            parts.append(box((arm_w, 0.03, d * 0.85), (x, arm_y, 0)))
            parts.append(segment((x, top, -d * 0.3), (x, arm_y, -d * 0.3), 0.015))
    return parts


def table(rng: np.random.Generator) -> list[Mesh]:
    """Rectangular or round top on four legs, a pedestal or two trestles; optional
    lower shelf."""
    h, t = _u(rng, 0.45, 0.80), _u(rng, 0.025, 0.07)
    round_top = rng.random() < 0.3
    if round_top:
        r = _u(rng, 0.35, 0.6)
        half_x = half_z = r * 0.6
        parts = [cylinder(r, t, (0, h - t / 2, 0), segments=24)]
    else:
        w, d = _u(rng, 0.8, 1.6), _u(rng, 0.45, 1.0)
        half_x, half_z = w / 2 - _u(rng, 0.03, 0.12), d / 2 - _u(rng, 0.03, 0.12)
        parts = [box((w, t, d), (0, h - t / 2, 0))]
    style = rng.integers(3) if not round_top else rng.integers(2)
    under = h - t
    if style == 0:
        r = _u(rng, 0.015, 0.04)
        parts += _legs(rng, half_x, half_z, under + 0.005, r, square=rng.random() < 0.5,
                       splay=_u(rng, 0.0, 0.03))
        if rng.random() < 0.3:
            parts.append(box((2 * half_x, 0.02, 2 * half_z), (0, _u(rng, 0.1, 0.25) * h, 0)))
    elif style == 1:
        parts.append(cylinder(_u(rng, 0.03, 0.07), under, (0, under / 2, 0), segments=12))
        parts.append(cylinder(_u(rng, 0.15, 0.3), 0.03, (0, 0.015, 0), segments=16))
    else:
        tw = _u(rng, 0.02, 0.05)
        for sx in (-1, 1):
            parts.append(box((tw, under, 2 * half_z * 0.8), (sx * half_x, under / 2, 0)))
            parts.append(box((tw * 2, 0.04, 2 * half_z), (sx * half_x, 0.02, 0)))
        parts.append(box((2 * half_x, 0.04, 0.03), (0, under * 0.4, 0)))
    return parts


def airplane(rng: np.random.Generator) -> list[Mesh]:
    """Fuselage, swept wings with dihedral, tailplane, fin and 0/2/4 engines."""
    length, radius = _u(rng, 0.8, 1.2), _u(rng, 0.04, 0.08)
    parts = [ellipsoid((radius, radius * _u(rng, 0.9, 1.2), length / 2), rings=10,
                       segments=12)]
    span, root, tip = _u(rng, 0.35, 0.6), _u(rng, 0.15, 0.3), _u(rng, 0.05, 0.12)
    sweep, thick = _u(rng, 0.0, 0.3), _u(rng, 0.012, 0.025)
    wing_z, wing_y = _u(rng, -0.1, 0.05) * length, _u(rng, -0.5, 0.3) * radius
    dihedral = _u(rng, -2.0, 8.0)
    for sx in (-1, 1):
        poly = np.array([[0.0, -root / 2], [sx * span, -root / 2 + sweep],
                         [sx * span, -root / 2 + sweep + tip], [0.0, root / 2]])
        wing = plate(poly, thick)
        parts.append(wing.transformed(rotation_z(sx * dihedral), (0, wing_y, wing_z)))
    t_span, t_root = span * _u(rng, 0.25, 0.4), root * _u(rng, 0.4, 0.6)
    tail_z = length * 0.42
    for sx in (-1, 1):
        poly = np.array([[0.0, -t_root / 2], [sx * t_span, 0.0], [sx * t_span, t_root * 0.3],
                         [0.0, t_root / 2]])
        parts.append(plate(poly, thick * 0.8, offset=(0, radius * 0.3, tail_z)))
    fin_h = _u(rng, 0.12, 0.25)
    fin = np.array([[-t_root * 0.6, 0.0], [t_root * 0.6, 0.0], [t_root * 0.7, fin_h],
                    [t_root * 0.2, fin_h]])
    parts.append(plate(fin, thick, plane="zy", offset=(0, radius * 0.5, tail_z - 0.02)))
    n_eng = int(rng.choice([0, 2, 4]))
    if n_eng:
        er, el = _u(rng, 0.025, 0.045), _u(rng, 0.12, 0.2)
        xs = [0.4] if n_eng == 2 else [0.3, 0.65]
        for f in xs:
            for sx in (-1, 1):
                x = sx * f * span
                z = wing_z - root / 2 + f * sweep - el * 0.3
                parts.append(cylinder(er, el, (x, wing_y - er * 1.1, z), axis="z", segments=12))
    return parts


def car(rng: np.random.Generator) -> list[Mesh]:
    """Tapered lower body, cabin with slanted windows, four wheels, optional spoiler."""
    length, width = _u(rng, 0.9, 1.1), _u(rng, 0.38, 0.5)
    body_h, r = _u(rng, 0.12, 0.22), _u(rng, 0.07, 0.1)
    body_y = r * 0.9 + body_h / 2
    top_half = (width / 2 * 0.95, length / 2 * _u(rng, 0.88, 0.97))
    parts = [tapered_box((width / 2, length / 2), top_half, body_h, (0, body_y, 0))]
    cab_h = _u(rng, 0.09, 0.18)
    cab_bottom = length * _u(rng, 0.22, 0.34)
    cab_top = cab_bottom * _u(rng, 0.45, 0.75)
    parts.append(tapered_box((width / 2 * 0.9, cab_bottom), (width / 2 * 0.75, cab_top), cab_h,
                             (0, body_y + body_h / 2 + cab_h / 2 - 0.005,
                              _u(rng, -0.08, 0.12) * length),
                             top_shift=(0.0, _u(rng, -0.3, 0.3) * (cab_bottom - cab_top))))
    wheel_w = _u(rng, 0.05, 0.09)
    wz = length * _u(rng, 0.28, 0.36)
    for sx in (-1, 1):
        for sz in (-1, 1):
            parts.append(cylinder(r, wheel_w, (sx * (width / 2 - wheel_w / 2 + 0.01), r, sz * wz),
                                  axis="x", segments=16))
    if rng.random() < 0.25:
        top_y = body_y + body_h / 2
        parts.append(box((width * 0.9, 0.015, 0.08), (0, top_y + 0.06, length / 2 - 0.06)))
        for sx in (-1, 1):
            parts.append(box((0.02, 0.07, 0.03), (sx * width * 0.3, top_y + 0.025,
                                                   length / 2 - 0.06)))
    return parts


def bench(rng: np.random.Generator) -> list[Mesh]:
    """Long seat (solid or slatted) on legs or side panels, optional back and arms."""
    length, depth = _u(rng, 0.9, 1.5), _u(rng, 0.28, 0.45)
    seat_y, seat_t = _u(rng, 0.35, 0.45), _u(rng, 0.025, 0.06)
    parts = []
    n_slats = int(rng.integers(1, 5))
    gap = _u(rng, 0.01, 0.03) if n_slats > 1 else 0.0
    slat_d = (depth - gap * (n_slats - 1)) / n_slats
    for k in range(n_slats):
        z = -depth / 2 + slat_d / 2 + k * (slat_d + gap)
        parts.append(box((length, seat_t, slat_d), (0, seat_y, z)))
    under = seat_y - seat_t / 2
    if rng.random() < 0.5:
        r = _u(rng, 0.015, 0.035)
        parts += _legs(rng, length / 2 - 0.06, depth / 2 - 0.03, under + 0.005, r,
                       square=rng.random() < 0.6, splay=_u(rng, 0.0, 0.04))
    else:
        pt = _u(rng, 0.02, 0.05)
        for sx in (-1, 1):
            parts.append(box((pt, under, depth * 0.9), (sx * (length / 2 - 0.08), under / 2, 0)))
    top = seat_y + seat_t / 2
    if rng.random() < 0.6:
        back_h = _u(rng, 0.2, 0.4)
        for sx in (-1, 1):
            parts.append(box((0.03, back_h, 0.03), (sx * (length / 2 - 0.08), top + back_h / 2,
                                                     depth / 2 - 0.015)))
        for k in range(int(rng.integers(1, 4))):
            y = top + back_h * (1 - 0.3 * k) - 0.04
            parts.append(box((length * 0.98, 0.05, 0.02), (0, y, depth / 2)))
    if rng.random() < 0.3:
        for sx in (-1, 1):
            x = sx * (length / 2 - 0.03)
            parts.append(box((0.04, 0.03, depth), (x, top + 0.2, 0)))
            parts.append(box((0.03, 0.2, 0.03), (x, top + 0.1, -depth * 0.35)))
    return parts


def cabinet(rng: np.random.Generator) -> list[Mesh]:
    """Carcass box on a plinth or short legs, drawers or doors with handles, optional
    overhanging top."""
    w, h, d = _u(rng, 0.5, 1.0), _u(rng, 0.5, 1.4), _u(rng, 0.35, 0.55)
    base_h = _u(rng, 0.04, 0.12)
    parts = [box((w, h, d), (0, base_h + h / 2, 0))]
    if rng.random() < 0.5:
        parts.append(box((w * 0.92, base_h, d * 0.9), (0, base_h / 2, 0)))
    else:
        parts += _legs(rng, w / 2 - 0.04, d / 2 - 0.04, base_h + 0.01, 0.02, square=True)
    if rng.random() < 0.5:
        parts.append(box((w * 1.06, 0.03, d * 1.06), (0, base_h + h + 0.015, 0)))
    front = -d / 2
    if rng.random() < 0.55:
        n = int(rng.integers(2, 6))
        for k in range(n):
            y = base_h + h * (k + 0.5) / n
            parts.append(box((w * 0.25, 0.02, 0.03), (0, y, front - 0.01)))
    else:
        n_doors = int(rng.integers(1, 3))
        for k in range(n_doors):
            x = (k - (n_doors - 1) / 2) * w / n_doors * 0.4 if n_doors == 2 else w * 0.35
            parts.append(box((0.02, h * 0.2, 0.03), (x, base_h + h * 0.55, front - 0.01)))
    return parts


def display(rng: np.random.Generator) -> list[Mesh]:
    """Screen panel (flat or CRT-like deep back) on a neck and base."""
    sw = _u(rng, 0.7, 1.0)
    sh = sw * _u(rng, 0.55, 0.8)
    st = _u(rng, 0.02, 0.05)
    neck_h = _u(rng, 0.08, 0.3)
    base_y = 0.02
    cy = base_y + neck_h + sh / 2
    parts = [box((sw, sh, st), (0, cy, 0))]
    if rng.random() < 0.3:
        deep = _u(rng, 0.2, 0.45)
        back = tapered_box((sw / 2 * 0.9, deep / 2), (sw / 2 * 0.5, deep / 2 * 0.6), sh * 0.85,
                           (0, cy, st / 2 + deep / 2 - 0.005))
        parts.append(back)
    neck_w = _u(rng, 0.04, 0.12)
    parts.append(box((neck_w, neck_h + sh * 0.3, 0.03), (0, base_y + (neck_h + sh * 0.3) / 2,
                                                          st / 2 + 0.02)))
    if rng.random() < 0.5:
        parts.append(box((_u(rng, 0.25, 0.5), 0.03, _u(rng, 0.15, 0.3)), (0, 0.015, 0.03)))
    else:
        parts.append(cylinder(_u(rng, 0.12, 0.22), 0.03, (0, 0.015, 0.03), segments=20))
    return parts


def lamp(rng: np.random.Generator) -> list[Mesh]:
    """Base, pole (straight or a two-segment desk arm) and a shade (frustum or globe)."""
    base_r = _u(rng, 0.1, 0.2)
    base_h = _u(rng, 0.02, 0.06)
    parts = [cylinder(base_r, base_h, (0, base_h / 2, 0), segments=20)]
    pole_r = _u(rng, 0.01, 0.02)
    style = rng.integers(3)
    if style == 1:  # desk lamp: two arm segments, shade hanging at the end
        a1, a2 = _u(rng, 10, 40), _u(rng, 50, 110)
        l1, l2 = _u(rng, 0.3, 0.5), _u(rng, 0.25, 0.45)
        p0 = np.array([0.0, base_h, 0.0])
        p1 = p0 + l1 * np.array([0.0, np.cos(np.radians(a1)), -np.sin(np.radians(a1))])
        p2 = p1 + l2 * np.array([0.0, np.cos(np.radians(a2)), -np.sin(np.radians(a2))])
        parts += [segment(p0, p1, pole_r), segment(p1, p2, pole_r)]
        parts.append(ellipsoid((pole_r * 1.8,) * 3, p1, rings=6, segments=8))
        shade_h = _u(rng, 0.08, 0.15)
        shade = cylinder(_u(rng, 0.03, 0.05), shade_h, top_radius=_u(rng, 0.07, 0.12),
                         segments=16)
        # Shade axis points down and slightly forward from the arm's end.
        parts.append(shade.transformed(rotation_x(180.0 - 20.0), p2 + [0, -shade_h * 0.4, 0]))
        return parts
    height = _u(rng, 0.5, 1.2)
    parts.append(cylinder(pole_r, height, (0, base_h + height / 2, 0), segments=10))
    top = base_h + height
    if style == 0:
        shade_h = _u(rng, 0.15, 0.35)
        r_bot, r_top = _u(rng, 0.15, 0.3), _u(rng, 0.06, 0.15)
        parts.append(cylinder(r_bot, shade_h, (0, top - shade_h * 0.3, 0), top_radius=r_top,
                              segments=20))
    else:
        g = _u(rng, 0.1, 0.2)
        parts.append(ellipsoid((g, g * _u(rng, 0.8, 1.3), g), (0, top + g * 0.7, 0)))
    return parts


def loudspeaker(rng: np.random.Generator) -> list[Mesh]:
    """Cabinet (straight or tapered) with 1-3 drivers on the front, optional feet."""
    w, h, d = _u(rng, 0.25, 0.5), _u(rng, 0.35, 1.0), _u(rng, 0.25, 0.45)
    foot = _u(rng, 0.0, 0.06)
    if rng.random() < 0.3:
        parts = [tapered_box((w / 2, d / 2), (w / 2 * _u(rng, 0.6, 0.9), d / 2 * 0.8), h,
                             (0, foot + h / 2, 0))]
    else:
        parts = [box((w, h, d), (0, foot + h / 2, 0))]
    n = int(rng.integers(1, 4))
    slot = h / n
    for k in range(n):
        r = min(w * 0.4, slot * 0.4) * (1.0 - 0.25 * k)
        y = foot + h - slot * (n - k - 0.5)
        parts.append(cylinder(r, 0.03, (0, y, -d / 2 - 0.005), axis="z", segments=16,
                              top_radius=r * 0.8))
    if foot > 0.01:
        parts += _legs(rng, w / 2 - 0.03, d / 2 - 0.03, foot + 0.005, 0.015, square=False)
    return parts


def rifle(rng: np.random.Generator) -> list[Mesh]:
    """Barrel, receiver, stock, pistol grip, optional magazine and scope (along z)."""
    barrel_l, barrel_r = _u(rng, 0.35, 0.6), _u(rng, 0.01, 0.02)
    recv_l, recv_h, recv_w = _u(rng, 0.22, 0.35), _u(rng, 0.06, 0.1), _u(rng, 0.035, 0.05)
    parts = [box((recv_w, recv_h, recv_l), (0, 0, 0))]
    parts.append(cylinder(barrel_r, barrel_l, (0, recv_h * 0.2, -recv_l / 2 - barrel_l / 2 + 0.01),
                          axis="z", segments=10))
    stock_l, drop = _u(rng, 0.2, 0.32), _u(rng, 0.0, 0.06)
    butt = recv_h * _u(rng, 1.3, 2.0)
    profile = np.array([[0.0, -recv_h / 2], [stock_l, -drop - butt / 2],
                        [stock_l, -drop + butt / 2], [0.0, recv_h / 2]])  # (z, y)
    parts.append(plate(profile, recv_w, plane="zy", offset=(0, -recv_h * 0.1, recv_l / 2 - 0.01)))
    parts.append(segment((0, -recv_h / 2 + 0.01, recv_l * 0.3),
                         (0, -recv_h / 2 - _u(rng, 0.07, 0.11), recv_l * 0.3 + 0.04),
                         0.018, square=True))
    if rng.random() < 0.7:
        mag_l = _u(rng, 0.08, 0.16)
        parts.append(box((recv_w * 0.8, mag_l, 0.05), (0, -recv_h / 2 - mag_l / 2 + 0.01,
                                                       -recv_l * 0.15)).transformed(
            rotation_x(-_u(rng, 0.0, 20.0))))
    if rng.random() < 0.5:
        sl, sr = _u(rng, 0.15, 0.25), _u(rng, 0.015, 0.025)
        sy = recv_h / 2 + sr + 0.02
        parts.append(cylinder(sr, sl, (0, sy, 0), axis="z", segments=12))
        for z in (-sl * 0.3, sl * 0.3):
            parts.append(box((0.015, 0.03, 0.015), (0, recv_h / 2 + 0.01, z)))
    if rng.random() < 0.4:  # handguard around the barrel's base
        parts.append(cylinder(barrel_r * 2.2, barrel_l * 0.4,
                              (0, recv_h * 0.1, -recv_l / 2 - barrel_l * 0.2), axis="z",
                              segments=12))
    return parts


def sofa(rng: np.random.Generator) -> list[Mesh]:
    """Base, back, arms (or none), 1-3 seat cushions, optional legs and chaise."""
    w, d = _u(rng, 1.2, 2.0), _u(rng, 0.6, 0.9)
    seat_y = _u(rng, 0.35, 0.45)
    leg_h = _u(rng, 0.0, 0.1)
    base_h = seat_y - leg_h - 0.08
    back_t, back_h = _u(rng, 0.12, 0.25), _u(rng, 0.3, 0.5)
    parts = [box((w, base_h, d), (0, leg_h + base_h / 2, 0))]
    parts.append(box((w, base_h + back_h, back_t), (0, leg_h + (base_h + back_h) / 2,
                                                    d / 2 - back_t / 2)))
    arm_w = 0.0
    if rng.random() < 0.8:
        arm_w, arm_h = _u(rng, 0.08, 0.2), _u(rng, 0.15, 0.3)
        for sx in (-1, 1):
            parts.append(box((arm_w, base_h + arm_h, d), (sx * (w / 2 - arm_w / 2),
                                                          leg_h + (base_h + arm_h) / 2, 0)))
    n = int(rng.integers(1, 4))
    inner = w - 2 * arm_w
    for k in range(n):
        x = -inner / 2 + (k + 0.5) * inner / n
        parts.append(box((inner / n * 0.97, 0.08, d - back_t), (x, leg_h + base_h + 0.04,
                                                               -back_t / 2)))
    if leg_h > 0.02:
        parts += _legs(rng, w / 2 - 0.05, d / 2 - 0.05, leg_h + 0.005, 0.02, square=False)
    if rng.random() < 0.2:
        cw = _u(rng, 0.5, 0.7)
        parts.append(box((cw, base_h, d * 0.8), (-w / 2 + cw / 2, leg_h + base_h / 2,
                                                 -d / 2 - d * 0.4 + 0.01)))
    return parts


def telephone(rng: np.random.Generator) -> list[Mesh]:
    """An upright smartphone (slab, screen, camera bump, side buttons) or a desk phone
    (tapered base, keypad, handset)."""
    if rng.random() < 0.7:
        w, h, t = _u(rng, 0.35, 0.55), _u(rng, 0.7, 1.0), _u(rng, 0.04, 0.09)
        parts = [box((w, h, t), (0, h / 2, 0))]
        parts.append(box((w * 0.9, h * 0.85, 0.01), (0, h / 2, -t / 2 - 0.002)))
        if rng.random() < 0.6:
            parts.append(box((w * 0.3, w * 0.3, 0.015), (w * 0.2, h * 0.82, t / 2 + 0.005)))
        for k in range(int(rng.integers(0, 3))):
            parts.append(box((0.015, 0.08, t * 0.5), (w / 2 + 0.005, h * (0.75 - 0.15 * k), 0)))
        return parts
    bw, bd, bh = _u(rng, 0.5, 0.7), _u(rng, 0.5, 0.7), _u(rng, 0.1, 0.2)
    parts = [tapered_box((bw / 2, bd / 2), (bw / 2 * 0.85, bd / 2 * 0.7), bh, (0, bh / 2, 0))]
    rows, cols = int(rng.integers(3, 5)), 3
    for i in range(rows):
        for j in range(cols):
            parts.append(box((0.05, 0.02, 0.04), ((j - 1) * 0.08, bh + 0.005,
                                                   -bd * 0.2 + i * 0.07 - 0.05)))
    hl = bw * _u(rng, 0.8, 1.0)
    hy = bh + 0.06
    parts.append(box((hl * 0.7, 0.04, 0.06), (0, hy, bd * 0.3)))
    for sx in (-1, 1):
        parts.append(ellipsoid((0.08, 0.04, 0.07), (sx * hl / 2, hy - 0.01, bd * 0.3)))
    return parts


def watercraft(rng: np.random.Generator) -> list[Mesh]:
    """Pointed tapered hull with a stack of deck houses and a funnel, or a sailboat
    (mast, sail plates, boom)."""
    length, width, hull_h = _u(rng, 0.9, 1.2), _u(rng, 0.18, 0.35), _u(rng, 0.1, 0.2)
    bow = _u(rng, 0.1, 0.3)
    top_poly = np.array([[-width / 2, length / 2], [width / 2, length / 2],
                         [width / 2, -length * bow], [0.0, -length / 2],
                         [-width / 2, -length * bow]])
    bot_poly = top_poly * np.array([_u(rng, 0.4, 0.75), 0.9])
    parts = [loft(bot_poly, top_poly, 0.0, hull_h)]
    deck = hull_h
    if rng.random() < 0.35:  # sailboat
        mast_h = _u(rng, 0.6, 1.0)
        mast_z = -length * _u(rng, 0.05, 0.2)
        parts.append(cylinder(0.012, mast_h, (0, deck + mast_h / 2, mast_z), segments=8))
        sail_l = length * _u(rng, 0.3, 0.45)
        main = np.array([[0.01, 0.05], [sail_l, 0.05], [0.01, mast_h * 0.95]])
        parts.append(plate(main, 0.008, plane="zy", offset=(0, deck, mast_z)))
        parts.append(cylinder(0.01, sail_l, (0, deck + 0.05, mast_z + sail_l / 2), axis="z",
                              segments=8))
        if rng.random() < 0.6:
            jib = np.array([[-0.01, 0.05], [-length * 0.3, 0.05], [-0.01, mast_h * 0.8]])
            parts.append(plate(jib, 0.008, plane="zy", offset=(0, deck, mast_z)))
        return parts
    n = int(rng.integers(1, 4))
    lw, ll = width * 0.8, length * _u(rng, 0.3, 0.5)
    z = length * _u(rng, 0.0, 0.15)
    y = deck
    for _ in range(n):
        lh = _u(rng, 0.05, 0.12)
        parts.append(box((lw, lh, ll), (0, y + lh / 2, z)))
        y += lh
        lw, ll = lw * _u(rng, 0.6, 0.9), ll * _u(rng, 0.5, 0.8)
    if rng.random() < 0.5:
        fr = _u(rng, 0.03, 0.06)
        fh = _u(rng, 0.08, 0.2)
        parts.append(cylinder(fr, fh, (0, y + fh / 2 - 0.01, z + ll * 0.3), segments=12))
    if rng.random() < 0.5:
        ah = _u(rng, 0.1, 0.25)
        parts.append(cylinder(0.008, ah, (0, y + ah / 2, z - ll * 0.3), segments=6))
    return parts


#: Class id -> generator of closed parts (un-normalized).
GENERATORS: dict[str, Generator] = {
    "02691156": airplane,
    "02828884": bench,
    "02933112": cabinet,
    "02958343": car,
    "03001627": chair,
    "03211117": display,
    "03636649": lamp,
    "03691459": loudspeaker,
    "04090263": rifle,
    "04256520": sofa,
    "04379243": table,
    "04401088": telephone,
    "04530566": watercraft,
}
assert set(GENERATORS) == set(CATEGORIES)

#: The class ids with a synthetic generator, in benchmark order.
SYNTHETIC_CLASS_IDS: tuple[str, ...] = tuple(cid for cid in CATEGORIES if cid in GENERATORS)


def object_seed(seed: int, class_id: str, split: str, index: int,
                attempt: int = 0) -> np.random.SeedSequence:
    """The seed of one synthetic object: independent of how many objects the other splits
    or categories hold, so changing one count never changes another object.  ``attempt``
    > 0 gives the replacements drawn when an object is rejected (too few voxels)."""
    split_code = {"train": 0, "val": 1, "test": 2}.get(split)
    if split_code is None:
        split_code = 3 + sum(map(ord, split))
    entropy = [int(seed), int(class_id) if class_id.isdigit() else 0, split_code, int(index)]
    return np.random.SeedSequence(entropy + ([int(attempt)] if attempt else []))


def generate(class_id: str, seed: int | np.random.SeedSequence | np.random.Generator) -> Mesh:
    """One synthetic object of category ``class_id`` (a ShapeNet id or name).

    Returns a :class:`~bench_softras.data.shapes.Mesh`: vertices float64 ``[V, 3]``
    normalized like ShapeNet (bounding box centred at the origin, diagonal 1, so inside
    ``[-0.5, 0.5]^3``), faces int64 ``[F, 3]``, one part id per face.  Deterministic in
    ``seed``.  Rotated by 0 degrees: front faces ``-z``, ``+y`` up.
    """
    cid = class_id_of(class_id)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    parts = GENERATORS[cid](rng)
    return normalize(merge(parts))


