"""Whole-data-set checks run before any expensive stage: every file of the selected
categories and splits loads and is well formed and non-degenerate
(:func:`~bench_softras.data.loader.read_category`), its alpha channel is on the 0..255
scale (:func:`check_alpha_scale`), and the evaluated split's voxels have the resolution
the evaluation voxelizes predictions at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from metrics.voxel_grid import DEFAULT_RESOLUTION

from .layout import SPLITS, DatasetFileError, find_class_ids, images_path, voxels_path
from .loader import read_category

#: Voxels per axis of the evaluation grid (predictions are voxelized at this resolution).
EVAL_VOXEL_RESOLUTION = DEFAULT_RESOLUTION


def check_eval_resolution(resolution: int, directory: str | Path, class_id: str,
                          split: str) -> None:
    """Raise :class:`DatasetFileError` naming the voxels file when ``resolution`` is not
    :data:`EVAL_VOXEL_RESOLUTION`."""
    if int(resolution) != EVAL_VOXEL_RESOLUTION:
        r, e = int(resolution), EVAL_VOXEL_RESOLUTION
        raise DatasetFileError(
            f"{voxels_path(directory, class_id, split)}: voxels are {r}x{r}x{r} but the "
            f"evaluation compares predictions voxelized at {e}x{e}x{e}; give ground truth "
            f"of shape [N, {e}, {e}, {e}] (the ShapeNet benchmark's)")


def check_alpha_scale(images: np.ndarray, path: str | Path) -> None:
    """Raise :class:`DatasetFileError` naming ``path`` when the alpha channel (channel 3)
    of uint8 ``images`` ``[N, 24, 4, S, S]`` holds nothing above 1: alpha stored as 0/1
    instead of 0..255.  Loaders divide by 255, so such silhouettes would be at most
    1/255, below every IoU threshold, and every IoU meaningless."""
    top = int(images[:, :, 3].max()) if images.size else 0
    if 0 < top <= 1:
        raise DatasetFileError(
            f"{path}: the alpha channel (channel 3) holds only 0 and 1, but benchmark images "
            "store alpha as 0..255 (255 = object; loaders divide by 255); re-save the "
            "images with alpha * 255")


def check_data_dir(directory: str | Path, class_ids: Sequence[str] = (),
                   eval_split: str = "test", splits: Sequence[str] = SPLITS) -> list[str]:
    """Load every ``splits`` file of ``class_ids`` (empty: every category with a train
    images file) one category at a time, so a missing, corrupt, malformed or degenerate
    file (all silhouettes or all voxels empty, alpha stored as 0/1) or evaluation voxels
    of another resolution raise :class:`DatasetFileError` naming it.  Returns the class
    ids checked."""
    directory = Path(directory)
    ids = list(class_ids) or find_class_ids(directory, "train")
    if not ids:
        raise DatasetFileError(f"{directory}: no '{{class_id}}_train_images.npz' files found")
    for cid in ids:
        for split in splits:
            images, voxels = read_category(directory, cid, split)
            check_alpha_scale(images, images_path(directory, cid, split))
            if split == eval_split:
                check_eval_resolution(voxels.shape[-1], directory, cid, split)
    return ids
