"""Measures shared by every experiment and report (voxel/silhouette IoU, chamfer, exact
pixel coverage, forward fidelity, the voxelization of predictions) and the reference
meshes.  Conventions: :mod:`metrics.voxel_grid`; the pixel grid is
:mod:`renderers.grid`'s.  The gradient-accuracy machinery (which imports
:mod:`renderers`) lives in :mod:`metrics.gradient_accuracy` and is not imported here."""

from .chamfer import chamfer, sample_surface
from .exact_coverage import exact_coverage
from .fidelity import forward_fidelity
from .iou import silhouette_iou, voxel_iou
from .meshes import box_mesh, template_sphere
from .voxels import (
    PREDICTION_RULE,
    connected_parts,
    surface_voxels,
    voxelize,
    voxelize_prediction,
)

__all__ = [
    "PREDICTION_RULE",
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
    "voxelize_prediction",
]
