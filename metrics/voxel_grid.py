"""The voxel grid: the single source of truth for ground-truth and predicted voxels.

``resolution^3`` (default 32^3) voxels tile the cube ``[-0.5, 0.5]^3`` in world units
(the ShapeNet benchmark of the paper).  Array index ``[i, j, k]`` is the voxel whose
centre is ``(x, y, z) = (-0.5 + (i + 0.5)/R, -0.5 + (j + 0.5)/R, -0.5 + (k + 0.5)/R)``:
axis 0 is world x, axis 1 world y (up), axis 2 world z, in the world frame of
:mod:`renderers.camera`.
"""

from __future__ import annotations

import numpy as np

DEFAULT_RESOLUTION = 32
EXTENT = 0.5  # the grid covers [-EXTENT, EXTENT]^3


def voxel_size(resolution: int = DEFAULT_RESOLUTION) -> float:
    """Edge length of one voxel in world units."""
    return 2 * EXTENT / resolution


def voxel_centers_1d(resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """Centres along one axis, float64 ``[R]`` in world units."""
    return -EXTENT + (np.arange(resolution) + 0.5) * voxel_size(resolution)


def voxel_centers(resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """All centres, float64 ``[R, R, R, 3]`` with ``[i, j, k] -> (x, y, z)``."""
    c = voxel_centers_1d(resolution)
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1)
