"""Solid voxelization of triangle meshes on the benchmark grid (:mod:`metrics.voxel_grid`).

A voxel is occupied when its *centre* lies inside the mesh.  Inside/outside is decided by
open3d's ``RaycastingScene.compute_occupancy``, which counts ray crossings (parity).
Parity is only right for a single closed surface: where two closed parts overlap, the
overlap is crossed twice and comes out *empty* (XOR, checked in the tests).  So a mesh
is split into parts, each part is voxelized alone and the occupancies are OR-ed: the
result is the union of the parts.  Parts are, by default, the connected components of
the mesh (faces sharing a vertex; vertices at identical positions are welded first, so
meshes with per-face duplicated vertices still form closed parts).  A part that is itself
made of nested shells (e.g. a hollow ball) must then be passed as one explicit part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .open3d_import import open3d
from .voxel_grid import DEFAULT_RESOLUTION, voxel_centers

#: Rays cast per query point; the majority vote guards against rays grazing an edge.
DEFAULT_NSAMPLES = 3


def _as_numpy(a, dtype) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def connected_parts(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-face part id ``int64 [F]`` (0..K-1): connected components of faces sharing a
    vertex, after welding vertices with identical coordinates.

    ``vertices``: float ``[V, 3]``; ``faces``: int ``[F, 3]``.
    """
    vertices = np.asarray(vertices)
    faces = np.asarray(faces, dtype=np.int64)
    if faces.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, weld = np.unique(vertices, axis=0, return_inverse=True)
    f = weld.reshape(-1)[faces]
    parent = np.arange(int(f.max()) + 1)
    while True:
        # Hook every face's roots onto the smallest root among its three vertices.
        roots = parent[f]
        low = roots.min(axis=1)
        before = parent.copy()
        for k in range(3):
            np.minimum.at(parent, roots[:, k], low)
        # Pointer jumping until every vertex points at a root.
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        if np.array_equal(parent, before):
            break
    _, part = np.unique(parent[f[:, 0]], return_inverse=True)
    return part.reshape(-1).astype(np.int64)


def _occupancy(vertices: np.ndarray, faces: np.ndarray, queries, nsamples: int) -> np.ndarray:
    o3d = open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
        o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
    )
    return scene.compute_occupancy(queries, nsamples=nsamples).numpy() > 0.5


def _voxelize_one(vertices, faces, resolution, parts, nsamples) -> np.ndarray:
    v = _as_numpy(vertices, np.float64)
    f = _as_numpy(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must have shape [V, 3], got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must have shape [F, 3], got {f.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vertices contain NaN/Inf values")
    if f.size and (f.min() < 0 or f.max() >= v.shape[0]):
        raise IndexError(
            f"face index out of range: faces reference vertices {f.min()}..{f.max()} but "
            f"there are only {v.shape[0]} vertices"
        )
    occ = np.zeros((resolution,) * 3, dtype=bool)
    if f.shape[0] == 0:
        return occ
    if isinstance(parts, str):
        if parts == "components":
            part_id = connected_parts(v, f)
        elif parts == "whole":
            part_id = np.zeros(f.shape[0], dtype=np.int64)
        else:
            raise ValueError(f"parts must be 'components', 'whole' or per-face ids, got {parts!r}")
    else:
        part_id = _as_numpy(parts, np.int64).reshape(-1)
        if part_id.shape[0] != f.shape[0]:
            raise ValueError(
                f"parts must give one id per face: {part_id.shape[0]} ids for {f.shape[0]} faces"
            )
    # Only voxels inside the part's bounding box can be occupied: query those.
    centres = voxel_centers(resolution)
    axis = centres[:, 0, 0, 0]
    for pid in np.unique(part_id):
        pf = f[part_id == pid]
        used = np.unique(pf)
        lo, hi = v[used].min(axis=0), v[used].max(axis=0)
        i0 = np.searchsorted(axis, lo, side="left")
        i1 = np.searchsorted(axis, hi, side="right")
        if np.any(i1 <= i0):
            continue
        box = centres[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]]
        o3d = open3d()
        queries = o3d.core.Tensor(np.ascontiguousarray(box, dtype=np.float32))
        occ[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]] |= _occupancy(v, pf, queries, nsamples)
    return occ


def voxelize(
    vertices,
    faces,
    resolution: int = DEFAULT_RESOLUTION,
    parts="components",
    nsamples: int = DEFAULT_NSAMPLES,
) -> np.ndarray:
    """Solid occupancy of triangle meshes on the ``resolution^3`` grid over
    ``[-0.5, 0.5]^3`` (world units; voxel ``[i, j, k]`` <-> centre ``(x, y, z)``, see
    :mod:`metrics.voxel_grid`).  A voxel is occupied iff its centre is inside the mesh;
    a mesh of several closed parts gives the union of its parts (module docstring).

    Args:
        vertices: one mesh ``[V, 3]``, a batch ``[N, V, 3]`` or a list of ``[V_n, 3]``
            (numpy or torch, world units).
        faces: int ``[F, 3]`` (shared by the batch), ``[N, F, 3]``, or a list of
            ``[F_n, 3]`` (vertex indices).
        resolution: voxels per axis.
        parts: ``"components"`` (default: connected components, welded), ``"whole"``
            (one part: plain ray parity), or per-face part ids ``[F]`` (a list of them
            for a batch).
        nsamples: rays per voxel centre (odd; majority vote).

    Returns:
        bool numpy ``[R, R, R]`` for one mesh, ``[N, R, R, R]`` for a batch or list.
    """
    if int(resolution) < 1:
        raise ValueError(f"resolution must be >= 1, got {resolution}")
    if int(nsamples) < 1 or int(nsamples) % 2 == 0:
        raise ValueError(f"nsamples must be an odd positive integer, got {nsamples}")
    resolution, nsamples = int(resolution), int(nsamples)
    single = not isinstance(vertices, Sequence) and _ndim(vertices) == 2
    if single:
        return _voxelize_one(vertices, faces, resolution, parts, nsamples)
    if not isinstance(vertices, Sequence) and _ndim(vertices) != 3:
        raise ValueError(
            f"vertices must be [V, 3], [N, V, 3] or a list of [V, 3]; got shape "
            f"{tuple(np.shape(vertices))}"
        )
    n = len(vertices)
    if isinstance(faces, Sequence) and len(faces) and _ndim(faces[0]) == 2:
        face_list = list(faces)
    elif _ndim(faces) == 3:
        face_list = [faces[i] for i in range(len(faces))]
    else:
        face_list = [faces] * n
    if len(face_list) != n:
        raise ValueError(f"{n} meshes but {len(face_list)} face arrays")
    if isinstance(parts, str) or parts is None:
        part_list = [parts or "components"] * n
    else:
        part_list = list(parts)
        if len(part_list) != n:
            raise ValueError(f"{n} meshes but {len(part_list)} part-id arrays")
    out = np.zeros((n,) + (resolution,) * 3, dtype=bool)
    for i in range(n):
        out[i] = _voxelize_one(vertices[i], face_list[i], resolution, part_list[i], nsamples)
    return out


def _ndim(a) -> int:
    return a.dim() if hasattr(a, "dim") and callable(a.dim) else np.ndim(a)
