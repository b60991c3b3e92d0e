"""Measures shared by every experiment and report (voxel/silhouette IoU, chamfer,
gradient accuracy).  Conventions: :mod:`metrics.voxel_grid`."""
