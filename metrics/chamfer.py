"""Chamfer distance between point clouds or meshes (via open3d).

For point sets ``A`` and ``B`` (world units)::

    chamfer(A, B) = mean_{a in A} min_{b in B} |a - b|^2 + mean_{b in B} min_{a in A} |a - b|^2

(``squared=False`` uses plain distances instead of squared ones).  A mesh enters as
``n_points`` points sampled uniformly by area on its surface with open3d
(``TriangleMesh.sample_points_uniformly``), seeded so results are reproducible.
Nearest neighbours: ``PointCloud.compute_point_cloud_distance`` (a KD-tree).
"""

from __future__ import annotations

import numpy as np

from .open3d_import import open3d

DEFAULT_POINTS = 10_000


def _np(a, dtype) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def sample_surface(vertices, faces, n_points: int = DEFAULT_POINTS, seed: int = 0) -> np.ndarray:
    """``n_points`` points uniformly distributed (by area) on a triangle mesh.

    ``vertices``: float ``[V, 3]``, ``faces``: int ``[F, 3]`` (numpy or torch).  Returns
    float64 ``[n_points, 3]`` in the mesh's units; the same seed gives the same points.
    """
    o3d = open3d()
    v, f = _np(vertices, np.float64), _np(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"a mesh needs vertices [V, 3] and faces [F, 3]; got {v.shape}, {f.shape}")
    if f.shape[0] == 0:
        raise ValueError("cannot sample points on a mesh without faces")
    if f.min() < 0 or f.max() >= v.shape[0]:
        raise IndexError(f"face index out of range for {v.shape[0]} vertices")
    if int(n_points) < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(v),
                                     o3d.utility.Vector3iVector(f.astype(np.int32)))
    o3d.utility.random.seed(int(seed))
    return np.asarray(mesh.sample_points_uniformly(int(n_points)).points, dtype=np.float64)


def _is_mesh(x) -> bool:
    if not isinstance(x, tuple) or len(x) != 2:
        return False
    return _np(x[1], None).dtype.kind in "iu"


def _points(x, n_points: int, seed: int) -> np.ndarray:
    if _is_mesh(x):
        return sample_surface(x[0], x[1], n_points, seed)
    p = _np(x, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(
            f"expected a point cloud [N, 3] or a mesh (vertices, int faces); got shape {p.shape}"
        )
    if p.shape[0] == 0:
        raise ValueError("chamfer distance of an empty point cloud is undefined")
    if not np.isfinite(p).all():
        raise ValueError("points contain NaN/Inf values")
    return p


def _one_sided(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    o3d = open3d()
    a = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(src))
    b = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(dst))
    return np.asarray(a.compute_point_cloud_distance(b), dtype=np.float64)


def chamfer(pred, target, n_points: int = DEFAULT_POINTS, squared: bool = True,
            seed: int = 0):
    """Symmetric chamfer distance (module docstring) between ``pred`` and ``target``.

    Each is a point cloud ``[N, 3]`` (numpy or torch), a mesh given as the tuple
    ``(vertices [V, 3], faces int [F, 3])`` (``n_points`` surface samples, seeded by
    ``seed``; target samples use ``seed + 1``), or a *list* of those for a batch (same
    length on both sides).  Units: world units squared (``squared=True``) or world units.
    Returns a float, or float64 numpy ``[N]`` for lists.
    """
    if isinstance(pred, list) or isinstance(target, list):
        if not (isinstance(pred, list) and isinstance(target, list)) or len(pred) != len(target):
            raise ValueError("batched chamfer needs two lists of the same length")
        return np.array([chamfer(p, t, n_points, squared, seed) for p, t in
                         zip(pred, target, strict=True)], dtype=np.float64)
    a = _points(pred, n_points, seed)
    b = _points(target, n_points, seed + 1)
    d_ab, d_ba = _one_sided(a, b), _one_sided(b, a)
    if squared:
        d_ab, d_ba = d_ab**2, d_ba**2
    return float(d_ab.mean() + d_ba.mean())
