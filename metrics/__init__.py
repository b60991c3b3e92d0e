"""Measures shared by every experiment and report (voxel/silhouette IoU, chamfer,
gradient accuracy) and the reference meshes.  Conventions: :mod:`metrics.voxel_grid`."""

from .chamfer import chamfer, sample_surface
from .iou import silhouette_iou, voxel_iou
from .meshes import box_mesh, template_sphere
from .voxels import connected_parts, voxelize

__all__ = [
    "box_mesh",
    "chamfer",
    "connected_parts",
    "sample_surface",
    "silhouette_iou",
    "template_sphere",
    "voxel_iou",
    "voxelize",
]
