"""Load a directory of benchmark files (real ShapeNet or synthetic; layout in
:mod:`bench_softras.data.layout`) into a :class:`Dataset`.  No network access."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .categories import category_name
from .layout import (
    DatasetFileError,
    check_images,
    check_split,
    check_voxels,
    find_class_ids,
    images_path,
    read_npz_array,
    voxels_from_file,
    voxels_path,
)


@dataclass
class Dataset:
    """One split of a benchmark data set, all categories concatenated.

    ``images``: uint8 ``[N, 24, 4, S, S]`` as stored (view ``v`` = camera
    ``renderers.Camera.benchmark(v)``; channel 3 = silhouette; see
    :mod:`bench_softras.data.layout`); :meth:`float_images` converts lazily to float32 in
    [0, 1].  ``voxels``: bool ``[N, R, R, R]`` in this project's convention
    (:mod:`metrics.voxel_grid`, ``[i, j, k] -> (x, y, z)``).  ``class_ids``: str ``[N]``,
    the category of each object.  ``split``: "train", "val" or "test".
    """

    images: np.ndarray
    voxels: np.ndarray
    class_ids: np.ndarray
    split: str
    directory: Path
    categories: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.voxels.shape[0] != n or self.class_ids.shape[0] != n:
            raise ValueError("images, voxels and class_ids must hold the same objects")
        if not self.categories:
            self.categories = list(dict.fromkeys(self.class_ids.tolist()))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_views(self) -> int:
        """Views per object (24)."""
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        """Image side in pixels."""
        return int(self.images.shape[-1])

    @property
    def category_names(self) -> list[str]:
        """Names of :attr:`categories` (the id itself for non-ShapeNet ids)."""
        return [category_name(c) for c in self.categories]

    def indices(self, class_id: str) -> np.ndarray:
        """Object indices (int64) of one category."""
        if class_id not in self.categories:
            raise KeyError(f"class id {class_id!r} not in this data set: {self.categories}")
        return np.flatnonzero(self.class_ids == class_id)

    def float_images(self, objects=None, views=None) -> np.ndarray:
        """float32 images in [0, 1] (``uint8 / 255``, as the official loaders).

        ``objects``: object indices (int array, slice or None = all); ``views``: view ids
        (same length as ``objects`` to pick one view per object, giving
        ``[B, 4, S, S]``), or None for all views (``[B, 24, 4, S, S]``).
        """
        objects = slice(None) if objects is None else objects
        if views is None:
            return self.images[objects].astype(np.float32) / np.float32(255.0)
        objects = np.asarray(objects).reshape(-1)
        views = np.asarray(views).reshape(-1)
        if objects.shape != views.shape:
            raise ValueError(f"objects ({objects.shape[0]}) and views ({views.shape[0]}) "
                             "must have the same length")
        return self.images[objects, views].astype(np.float32) / np.float32(255.0)

    def silhouettes(self, objects=None, views=None) -> np.ndarray:
        """Alpha channel (silhouette) as float32 in [0, 1]; indexing as
        :meth:`float_images` (``[B, S, S]`` or ``[B, 24, S, S]``)."""
        return self.float_images(objects, views)[..., 3, :, :]


def load_split(directory: str | Path, class_id: str, split: str) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """One category's split: ``(images uint8 [N, 24, 4, S, S], voxels bool [N, R, R, R]
    in this project's convention)``.  Raises
    :class:`~bench_softras.data.layout.DatasetFileError` naming a missing or malformed
    file."""
    ip, vp = images_path(directory, class_id, split), voxels_path(directory, class_id, split)
    images = check_images(read_npz_array(ip), ip)
    voxels = check_voxels(read_npz_array(vp), vp)
    if voxels.shape[0] != images.shape[0]:
        raise DatasetFileError(
            f"{vp}: holds {voxels.shape[0]} objects but {ip.name} holds {images.shape[0]}; "
            "they must match object for object"
        )
    return images, voxels_from_file(voxels)


def load_dataset(directory: str | Path, class_ids: Sequence[str] | str | None = None,
                 split: str = "train") -> Dataset:
    """Load ``split`` of the categories ``class_ids`` (None: every category with an
    images file for the split in ``directory``) from benchmark ``.npz`` files.

    Objects are concatenated in ``class_ids`` order.  Voxels are converted to this
    project's convention (:func:`~bench_softras.data.layout.voxels_from_file`); images
    stay uint8 (see :meth:`Dataset.float_images`).  Missing or malformed files raise
    :class:`~bench_softras.data.layout.DatasetFileError` naming the file.
    """
    directory = Path(directory)
    check_split(split)
    if not directory.is_dir():
        raise DatasetFileError(f"{directory}: data set directory not found")
    if class_ids is None:
        class_ids = find_class_ids(directory, split)
        if not class_ids:
            raise DatasetFileError(
                f"{directory}: no '{{class_id}}_{split}_images.npz' files found (expected the "
                "ShapeNet benchmark layout, e.g. 03001627_train_images.npz)"
            )
    elif isinstance(class_ids, str):
        class_ids = [class_ids]
    class_ids = list(dict.fromkeys(class_ids))
    images, voxels, ids = [], [], []
    for cid in class_ids:
        im, vx = load_split(directory, cid, split)
        if images and (im.shape[-1] != images[0].shape[-1] or vx.shape[-1] != voxels[0].shape[-1]):
            raise DatasetFileError(
                f"{images_path(directory, cid, split)}: image size {im.shape[-1]} / voxel "
                f"resolution {vx.shape[-1]} differ from the first category's "
                f"({images[0].shape[-1]} / {voxels[0].shape[-1]})"
            )
        images.append(im)
        voxels.append(vx)
        ids.append(np.full(im.shape[0], cid, dtype=object))
    return Dataset(
        images=np.concatenate(images) if len(images) > 1 else images[0],
        voxels=np.ascontiguousarray(np.concatenate(voxels)),
        class_ids=np.concatenate(ids).astype(str),
        split=split,
        directory=directory,
        categories=class_ids,
    )
