"""Closed mesh primitives and their assembly into part-labelled meshes.

Pure numpy (no renderer, no torch).  Every primitive is a closed, edge-manifold,
outward-oriented (counter-clockwise seen from outside, positive signed volume)
triangle mesh: ``vertices`` float64 ``[V, 3]`` in world units, ``faces`` int64
``[F, 3]``.  World frame as in :mod:`renderers.camera`: ``+y`` up.

A :class:`Mesh` additionally carries ``part_ids`` int64 ``[F]``: the index of the
closed part each face belongs to.  Parts may overlap (an assembly is their union);
each part on its own is watertight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh made of closed parts.

    ``vertices`` float64 ``[V, 3]`` (world units), ``faces`` int64 ``[F, 3]`` (indices
    into ``vertices``), ``part_ids`` int64 ``[F]`` (part index per face, ``0..P-1``).
    """

    vertices: np.ndarray
    faces: np.ndarray
    part_ids: np.ndarray

    def __post_init__(self) -> None:
        v = np.asarray(self.vertices, dtype=np.float64)
        f = np.asarray(self.faces, dtype=np.int64)
        p = np.asarray(self.part_ids, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"vertices must have shape [V, 3], got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"faces must have shape [F, 3], got {f.shape}")
        if p.shape != (f.shape[0],):
            raise ValueError(f"part_ids must have shape [F]={f.shape[0]}, got {p.shape}")
        if f.size and (f.min() < 0 or f.max() >= v.shape[0]):
            raise IndexError("face index out of range")
        if not np.isfinite(v).all():
            raise ValueError("vertices contain NaN/Inf")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)
        object.__setattr__(self, "part_ids", p)

    @property
    def num_parts(self) -> int:
        """Number of parts (``max(part_ids) + 1``; 0 for an empty mesh)."""
        return int(self.part_ids.max()) + 1 if self.part_ids.size else 0

    def part(self, index: int) -> Mesh:
        """Part ``index`` as its own single-part mesh (unused vertices dropped)."""
        faces = self.faces[self.part_ids == index]
        used, inverse = np.unique(faces, return_inverse=True)
        return Mesh(self.vertices[used], inverse.reshape(-1, 3),
                    np.zeros(faces.shape[0], dtype=np.int64))

    def parts(self) -> list[Mesh]:
        """All parts, in part-id order."""
        return [self.part(i) for i in range(self.num_parts)]

    def transformed(self, matrix: np.ndarray | None = None,
                    offset: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
        """``vertices @ matrix.T + offset`` (``matrix`` ``[3, 3]``, default identity).
        A reflection (negative determinant) flips the face winding to stay outward."""
        m = np.eye(3) if matrix is None else np.asarray(matrix, dtype=np.float64)
        faces = self.faces if np.linalg.det(m) > 0 else self.faces[:, ::-1].copy()
        return Mesh(self.vertices @ m.T + np.asarray(offset, dtype=np.float64), faces,
                    self.part_ids)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box ``(min [3], max [3])`` in world units."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)


def mesh_problem(vertices: np.ndarray, faces: np.ndarray) -> str | None:
    """What makes ``vertices`` ``[V, 3]`` / ``faces`` ``[F, 3]`` (as read from a file)
    unusable as a target mesh, in words, or ``None`` when they are usable: no vertices,
    no triangles (a point cloud), NaN/Inf coordinates, a face index out of range, or
    every face's vertices at one point (nothing to normalize, render or voxelize)."""
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if v.shape[0] == 0:
        return "no vertices or triangles could be read (an empty, text or malformed file)"
    if f.shape[0] == 0:
        return f"{v.shape[0]} point(s) and no triangles (a point cloud, not a mesh)"
    if not np.isfinite(v).all():
        return "vertex coordinates contain NaN or Inf"
    if f.min() < 0 or f.max() >= v.shape[0]:
        return f"a face index is out of range (faces must index its {v.shape[0]} vertices)"
    used = v[np.unique(f)]
    if not np.ptp(used, axis=0).any():
        return "every triangle's vertices lie at one point (a zero-size mesh)"
    return None


def merge(parts: Sequence[Mesh]) -> Mesh:
    """Concatenate meshes into one; part ids are renumbered consecutively across
    ``parts`` (a multi-part input keeps its parts distinct)."""
    if not parts:
        raise ValueError("merge() needs at least one mesh")
    verts, faces, pids = [], [], []
    v0 = p0 = 0
    for m in parts:
        verts.append(m.vertices)
        faces.append(m.faces + v0)
        pids.append(m.part_ids + p0)
        v0 += m.vertices.shape[0]
        p0 += m.num_parts
    return Mesh(np.concatenate(verts), np.concatenate(faces), np.concatenate(pids))


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume (world units^3) enclosed by a closed mesh; positive when the faces
    are oriented outward (counter-clockwise seen from outside)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _single(vertices: np.ndarray, faces: list | np.ndarray) -> Mesh:
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    return Mesh(vertices, f, np.zeros(f.shape[0], dtype=np.int64))


def loft(bottom: np.ndarray, top: np.ndarray, y0: float, y1: float) -> Mesh:
    """A closed solid between two star-shaped polygons in horizontal planes.

    ``bottom``, ``top``: float ``[n, 2]`` polygon vertices ``(x, z)`` (n >= 3, same n,
    matching vertex order, each star-shaped about its centroid) at heights ``y0 < y1``.
    Side quads join vertex ``i`` of both; caps are fans around the centroids.  Either
    polygon orientation is accepted; the result is always oriented outward.
    Boxes, tapered boxes, prisms, cylinders and frusta are all lofts.
    """
    bottom = np.asarray(bottom, dtype=np.float64)
    top = np.asarray(top, dtype=np.float64)
    n = bottom.shape[0]
    if n < 3 or bottom.shape != (n, 2) or top.shape != (n, 2):
        raise ValueError("loft needs two [n, 2] polygons with the same n >= 3")
    if not y1 > y0:
        raise ValueError(f"loft needs y0 < y1, got {y0}, {y1}")
    # Orient counter-clockwise seen from +y: in (x, z) that is a negative shoelace area.
    area = 0.5 * np.sum(bottom[:, 0] * np.roll(bottom[:, 1], -1)
                        - np.roll(bottom[:, 0], -1) * bottom[:, 1])
    if area > 0:
        bottom, top = bottom[::-1], top[::-1]
    vb = np.column_stack([bottom[:, 0], np.full(n, y0), bottom[:, 1]])
    vt = np.column_stack([top[:, 0], np.full(n, y1), top[:, 1]])
    cb = np.array([[bottom[:, 0].mean(), y0, bottom[:, 1].mean()]])
    ct = np.array([[top[:, 0].mean(), y1, top[:, 1].mean()]])
    vertices = np.concatenate([vb, vt, cb, ct])
    i = np.arange(n)
    j = (i + 1) % n
    side1 = np.column_stack([i, n + j, j])
    side2 = np.column_stack([i, n + i, n + j])
    cap_b = np.column_stack([np.full(n, 2 * n), i, j])
    cap_t = np.column_stack([np.full(n, 2 * n + 1), n + j, n + i])
    mesh = _single(vertices, np.concatenate([side1, side2, cap_b, cap_t]))
    if signed_volume(mesh.vertices, mesh.faces) < 0:  # pragma: no cover - guarded above
        mesh = Mesh(mesh.vertices, mesh.faces[:, ::-1].copy(), mesh.part_ids)
    return mesh


def rectangle(half_x: float, half_z: float, cx: float = 0.0, cz: float = 0.0) -> np.ndarray:
    """Rectangle polygon ``[4, 2]`` (x, z) with half sizes and centre."""
    return np.array([[cx - half_x, cz - half_z], [cx + half_x, cz - half_z],
                     [cx + half_x, cz + half_z], [cx - half_x, cz + half_z]])


def regular_polygon(radius_x: float, radius_z: float | None = None,
                    segments: int = 16) -> np.ndarray:
    """Ellipse-inscribed regular polygon ``[segments, 2]`` (x, z) centred at the origin."""
    rz = radius_x if radius_z is None else radius_z
    t = 2 * np.pi * np.arange(segments) / segments
    return np.column_stack([radius_x * np.cos(t), rz * np.sin(t)])


def box(size: Sequence[float], center: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
    """Axis-aligned box of edge lengths ``size`` (x, y, z) centred at ``center``."""
    sx, sy, sz = (float(s) for s in size)
    if min(sx, sy, sz) <= 0:
        raise ValueError(f"box sizes must be > 0, got {size}")
    rect = rectangle(sx / 2, sz / 2)
    return loft(rect, rect, -sy / 2, sy / 2).transformed(offset=center)


def tapered_box(bottom_half: Sequence[float], top_half: Sequence[float], height: float,
                center: Sequence[float] = (0.0, 0.0, 0.0),
                top_shift: Sequence[float] = (0.0, 0.0)) -> Mesh:
    """Box whose bottom ``(hx, hz)`` and top ``(hx, hz)`` half sizes differ; the top
    rectangle is shifted by ``top_shift`` (x, z).  ``height`` along y; centred at
    ``center``."""
    bot = rectangle(*bottom_half)
    top = rectangle(top_half[0], top_half[1], *top_shift)
    return loft(bot, top, -height / 2, height / 2).transformed(offset=center)


def cylinder(radius: float, height: float, center: Sequence[float] = (0.0, 0.0, 0.0),
             axis: str = "y", segments: int = 16, top_radius: float | None = None,
             radius_z: float | None = None) -> Mesh:
    """Cylinder (or frustum with ``top_radius``) of ``height`` along ``axis`` ("x", "y"
    or "z"), centred at ``center``.  ``radius_z`` makes the cross-section elliptic."""
    r1 = float(radius if top_radius is None else top_radius)
    if radius <= 0 or r1 <= 0 or height <= 0:
        raise ValueError("cylinder radii and height must be > 0")
    rz = radius if radius_z is None else radius_z
    bot = regular_polygon(radius, rz, segments)
    top = bot * (r1 / radius)
    mesh = loft(bot, top, -height / 2, height / 2)
    return mesh.transformed(axis_rotation(axis), center)


def ellipsoid(radii: Sequence[float], center: Sequence[float] = (0.0, 0.0, 0.0),
              rings: int = 8, segments: int = 12) -> Mesh:
    """Ellipsoid with semi-axes ``radii`` (x, y, z) centred at ``center``: a UV sphere
    with ``rings`` latitude bands and ``segments`` longitudes, poles on the y axis."""
    rx, ry, rz = (float(r) for r in radii)
    if min(rx, ry, rz) <= 0 or rings < 2 or segments < 3:
        raise ValueError("ellipsoid needs radii > 0, rings >= 2, segments >= 3")
    theta = np.pi * np.arange(1, rings) / rings  # polar angle of the inner rings
    phi = 2 * np.pi * np.arange(segments) / segments
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring_v = np.stack([st * np.cos(phi), np.broadcast_to(ct, (rings - 1, segments)),
                       -st * np.sin(phi)], axis=-1).reshape(-1, 3)
    vertices = np.concatenate([[[0.0, 1.0, 0.0]], ring_v, [[0.0, -1.0, 0.0]]])
    vertices = vertices * np.array([rx, ry, rz])
    south = vertices.shape[0] - 1
    faces = []
    k = np.arange(segments)
    kn = (k + 1) % segments
    faces.append(np.column_stack([np.zeros(segments, dtype=np.int64), 1 + k, 1 + kn]))
    for r in range(rings - 2):
        a = 1 + r * segments
        b = a + segments
        faces.append(np.column_stack([a + k, b + k, b + kn]))
        faces.append(np.column_stack([a + k, b + kn, a + kn]))
    last = 1 + (rings - 2) * segments
    faces.append(np.column_stack([np.full(segments, south), last + kn, last + k]))
    mesh = _single(vertices, np.concatenate(faces))
    if signed_volume(mesh.vertices, mesh.faces) < 0:
        mesh = Mesh(mesh.vertices, mesh.faces[:, ::-1].copy(), mesh.part_ids)
    return mesh.transformed(offset=center)


def axis_rotation(axis: str) -> np.ndarray:
    """Rotation ``[3, 3]`` taking the +y axis to the given axis ("x", "y", "z")."""
    if axis == "y":
        return np.eye(3)
    if axis == "x":
        return rotation_z(-90.0)
    if axis == "z":
        return rotation_x(90.0)
    raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}")


def rotation_x(degrees: float) -> np.ndarray:
    """Right-handed rotation ``[3, 3]`` about +x by ``degrees``."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rotation_y(degrees: float) -> np.ndarray:
    """Right-handed rotation ``[3, 3]`` about +y by ``degrees``."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rotation_z(degrees: float) -> np.ndarray:
    """Right-handed rotation ``[3, 3]`` about +z by ``degrees``."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def segment(start: Sequence[float], end: Sequence[float], radius: float,
            segments: int = 8, square: bool = False) -> Mesh:
    """A thin rod (cylinder, or square bar with ``square``) from ``start`` to ``end``
    (world points), ``radius`` = half thickness."""
    p0 = np.asarray(start, dtype=np.float64)
    p1 = np.asarray(end, dtype=np.float64)
    d = p1 - p0
    length = float(np.linalg.norm(d))
    if length <= 0:
        raise ValueError("segment needs distinct end points")
    if square:
        rod = box((2 * radius, length, 2 * radius))
    else:
        rod = cylinder(radius, length, segments=segments)
    return rod.transformed(rotation_between((0.0, 1.0, 0.0), d / length), (p0 + p1) / 2)


def rotation_between(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """Rotation ``[3, 3]`` taking unit vector ``a`` to unit vector ``b`` (Rodrigues)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:  # opposite: rotate by pi about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0, 0]) if abs(a[0]) < 0.9 else np.cross(a, [0, 0, 1.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def normalize(mesh: Mesh, diagonal: float = 1.0) -> Mesh:
    """Centre the bounding box at the origin and scale its diagonal to ``diagonal``
    (ShapeNet's normalization; with the default 1 the mesh lies in ``[-0.5, 0.5]^3``
    and inside the unit-diameter sphere, so every benchmark view sees all of it)."""
    lo, hi = mesh.bounds()
    diag = float(np.linalg.norm(hi - lo))
    if not diag > 0:
        raise ValueError("cannot normalize a mesh with an empty bounding box")
    s = diagonal / diag
    return Mesh((mesh.vertices - (lo + hi) / 2) * s, mesh.faces, mesh.part_ids)
