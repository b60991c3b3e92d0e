"""Measures shared by every experiment and report (voxel/silhouette IoU, chamfer, exact
pixel coverage, forward fidelity) and the reference meshes.  Conventions:
:mod:`metrics.voxel_grid`.  The gradient-accuracy machinery (which imports
:mod:`renderers`) lives in :mod:`metrics.gradient_accuracy` and is not imported here."""

from .chamfer import chamfer, sample_surface
from .exact_coverage import exact_coverage
from .fidelity import forward_fidelity
from .iou import silhouette_iou, voxel_iou
from .meshes import box_mesh, template_sphere
from .voxels import connected_parts, surface_voxels, voxelize

__all__ = [
    "box_mesh",
    "chamfer",
    "connected_parts",
    "exact_coverage",
    "forward_fidelity",
    "sample_surface",
    "silhouette_iou",
    "surface_voxels",
    "template_sphere",
    "voxel_iou",
    "voxelize",
]
