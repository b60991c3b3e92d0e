"""Measures shared by every experiment and report (voxel/silhouette IoU, chamfer,
gradient accuracy).  Conventions: :mod:`metrics.voxel_grid`."""

from .iou import silhouette_iou, voxel_iou
from .voxels import connected_parts, voxelize

__all__ = ["connected_parts", "silhouette_iou", "voxel_iou", "voxelize"]
