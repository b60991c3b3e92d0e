"""Reference meshes shared by every experiment: the sphere template that the
reconstruction network deforms, and simple closed shapes (world units, the frame of
:mod:`renderers.camera`).  All faces are wound counter-clockwise seen from outside."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .open3d_import import open3d

#: open3d's unit icosphere after 3 Loop subdivisions (642 vertices, 1280 faces), saved
#: for machines without open3d (a GPU machine's Python); a test checks it equals what
#: open3d builds.
SHIPPED_ICOSPHERE = Path(__file__).with_name("data") / "icosphere3.npz"


def _arrays(mesh) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(mesh.vertices, dtype=np.float64).copy(),
            np.asarray(mesh.triangles, dtype=np.int64).copy())


def template_sphere(subdivisions: int = 3, radius: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The icosphere template: an icosahedron, ``subdivisions`` rounds of Loop
    subdivision, every vertex projected back onto the sphere of ``radius``.

    Returns ``(vertices float64 [V, 3], faces int64 [F, 3])`` with
    ``V = 10 * 4**s + 2``, ``F = 20 * 4**s`` (s = 3: 642 vertices, 1280 faces), centred at
    the origin, faces wound outward.
    """
    if int(subdivisions) < 0:
        raise ValueError(f"subdivisions must be >= 0, got {subdivisions}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    v, f = _unit_icosphere(int(subdivisions))
    return v * (radius / np.linalg.norm(v, axis=1, keepdims=True)), f


def _unit_icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """open3d's icosahedron after ``subdivisions`` Loop rounds; the shipped copy of the
    3-round one when open3d cannot be imported."""
    try:
        o3d = open3d()
    except ImportError:
        if subdivisions != 3:
            raise
        with np.load(SHIPPED_ICOSPHERE) as z:
            return z["vertices"].copy(), z["faces"].copy()
    mesh = o3d.geometry.TriangleMesh.create_icosahedron(radius=1.0)
    if subdivisions:
        mesh = mesh.subdivide_loop(number_of_iterations=subdivisions)
    return _arrays(mesh)


def box_mesh(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box ``[lo, hi]`` (each a 3-vector, world units): 8 vertices float64
    ``[8, 3]``, 12 faces int64 ``[12, 3]`` wound outward."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if lo.shape != (3,) or hi.shape != (3,) or not (hi > lo).all():
        raise ValueError(f"box needs lo < hi, both 3-vectors; got lo={lo}, hi={hi}")
    o3d = open3d()
    mesh = o3d.geometry.TriangleMesh.create_box(*(hi - lo))
    v, f = _arrays(mesh)
    return v + lo, f
