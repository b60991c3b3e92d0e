"""The multi-view data set the experiments train and evaluate on, and its one loader.

:class:`MultiViewData` holds, for ``N`` objects, the 24 benchmark views as uint8 RGBA
images ``[N, 24, 4, S, S]`` (view ``k`` seen by ``renderers.Camera.benchmark(k)``;
channel 3 = silhouette; see :mod:`bench_softras.data.layout`), the ground-truth occupancy
``[N, R, R, R]`` bool in this project's convention (:mod:`metrics.voxel_grid`,
``[i, j, k] -> (x, y, z)``), and a class id per object.  It is also a map-style torch
``Dataset`` whose items are ``(images float32 [24, 4, S, S] in [0, 1], voxels bool
[R, R, R], class_id)``, and :meth:`MultiViewData.from_dataset` builds one from any data
set with such items.

:func:`load_split` reads one split of a directory of benchmark files (real ShapeNet or
synthetic; layout ``{class_id}_{split}_images.npz`` / ``_voxels.npz`` in
:mod:`bench_softras.data.layout`) into one.  No network access.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .cache_check import MANIFEST, verify_manifest
from .categories import category_name
from .layout import (
    NUM_VIEWS,
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
class MultiViewData:
    """``images`` uint8 ``[N, 24, 4, S, S]``, ``voxels`` bool ``[N, R, R, R]``,
    ``class_ids`` str ``[N]`` (see the module docstring)."""

    images: np.ndarray
    voxels: np.ndarray
    class_ids: np.ndarray
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        self.voxels = np.asarray(self.voxels).astype(bool, copy=False)
        self.class_ids = np.asarray(self.class_ids, dtype=str).reshape(-1)
        n = self.images.shape[0] if self.images.ndim else 0
        if self.images.ndim != 5 or self.images.shape[1] != NUM_VIEWS or \
                self.images.shape[2] != 4 or self.images.shape[3] != self.images.shape[4]:
            raise ValueError(f"images must have shape [N, 24, 4, S, S], got {self.images.shape}")
        if self.images.dtype != np.uint8:
            raise TypeError(f"images must be uint8 (0..255), got {self.images.dtype}")
        if self.voxels.ndim != 4 or self.voxels.shape[0] != n or \
                len(set(self.voxels.shape[1:])) != 1:
            raise ValueError(f"voxels must have shape [N={n}, R, R, R], got {self.voxels.shape}")
        if self.class_ids.shape[0] != n:
            raise ValueError(f"{self.class_ids.shape[0]} class ids for {n} objects")
        if n == 0:
            raise ValueError("the data set is empty")

    # -- torch Dataset protocol -------------------------------------------------------
    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int):
        img = torch.from_numpy(self.images[i].astype(np.float32) / 255.0)
        return img, torch.from_numpy(self.voxels[i].copy()), str(self.class_ids[i])

    def fingerprint(self) -> str:
        """16 hex digits of the SHA-256 of the content (class ids, images, voxels;
        neither where it was read from nor when), so a checkpoint records what it was
        trained on.  Computed once per object: the arrays are treated as read-only."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for part in (self.class_ids.astype(str), self.images, self.voxels):
                h.update(f"{part.dtype.str}{part.shape}".encode())
                h.update(np.ascontiguousarray(part).data)
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    # -- properties and selections ----------------------------------------------------
    @property
    def image_size(self) -> int:
        """Image side in pixels."""
        return int(self.images.shape[-1])

    @property
    def classes(self) -> list[str]:
        """Class ids in order of first appearance."""
        _, first = np.unique(self.class_ids, return_index=True)
        return [str(self.class_ids[i]) for i in sorted(first)]

    @property
    def class_names(self) -> list[str]:
        """Names of :attr:`classes` (the id itself for non-ShapeNet ids)."""
        return [category_name(c) for c in self.classes]

    def indices_of(self, class_id: str) -> np.ndarray:
        """Object indices ``int64 [n]`` of one class."""
        idx = np.flatnonzero(self.class_ids == class_id)
        if idx.size == 0:
            raise KeyError(f"class {class_id!r} not in the data set; have {self.classes}")
        return idx

    def subset(self, indices) -> MultiViewData:
        """The objects at ``indices`` (a view where numpy allows, else a copy)."""
        indices = np.asarray(indices, dtype=np.int64)
        return MultiViewData(self.images[indices], self.voxels[indices], self.class_ids[indices])

    def limit_per_class(self, max_objects: int) -> MultiViewData:
        """The first ``max_objects`` objects of each class (0: all)."""
        if max_objects <= 0:
            return self
        keep = np.concatenate([self.indices_of(c)[:max_objects] for c in self.classes])
        return self.subset(np.sort(keep))

    @classmethod
    def concatenate(cls, parts: Sequence[MultiViewData]) -> MultiViewData:
        """Objects of several data sets, in order."""
        if not parts:
            raise ValueError("nothing to concatenate")
        return cls(np.concatenate([p.images for p in parts]),
                   np.concatenate([p.voxels for p in parts]),
                   np.concatenate([p.class_ids for p in parts]))

    @classmethod
    def from_dataset(cls, dataset) -> MultiViewData:
        """Collect a map-style data set of ``(images float [24, 4, S, S] in [0, 1] or
        uint8, voxels [R, R, R], class_id)`` items into memory."""
        imgs, vox, cls_ids = [], [], []
        for k in range(len(dataset)):
            im, vx, cid = dataset[k]
            im = im.detach().cpu().numpy() if torch.is_tensor(im) else np.asarray(im)
            if im.dtype != np.uint8:
                im = np.clip(np.rint(im * 255.0), 0, 255).astype(np.uint8)
            imgs.append(im)
            vox.append(vx.detach().cpu().numpy() if torch.is_tensor(vx) else np.asarray(vx))
            cls_ids.append(str(cid))
        if not imgs:
            raise ValueError("the data set is empty")
        return cls(np.stack(imgs), np.stack(vox).astype(bool), np.asarray(cls_ids))

    # -- images -----------------------------------------------------------------------
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

    def images_at(self, objects: np.ndarray, views: np.ndarray, image_size: int | None = None,
                  device=None) -> torch.Tensor:
        """Float32 images ``[B, 4, S, S]`` in ``[0, 1]`` of ``objects[b]`` seen from
        ``views[b]``; area-resampled to ``image_size`` when that differs."""
        raw = torch.from_numpy(self.images[np.asarray(objects), np.asarray(views)])
        img = raw.to(device=device, dtype=torch.float32) / 255.0
        if image_size is not None and image_size != self.image_size:
            img = F.interpolate(img, size=(image_size, image_size), mode="area")
        return img

    def random_batch(self, batch_size: int, rng: np.random.Generator,
                     views: Sequence[int] | None = None):
        """Two random views of ``batch_size`` random objects, as the official recon code:
        a class uniformly, then an object of it uniformly, then views ``a`` and ``b``
        independently from ``views`` (default all 24).

        Returns ``(objects int64 [B], views_a int64 [B], views_b int64 [B])``.
        """
        views = np.arange(NUM_VIEWS) if views is None else np.asarray(views, dtype=np.int64)
        if views.size == 0 or views.min() < 0 or views.max() >= NUM_VIEWS:
            raise ValueError(f"views must be a non-empty subset of 0..23, got {views}")
        classes = self.classes
        by_class = [self.indices_of(c) for c in classes]
        cls_pick = rng.integers(0, len(classes), size=batch_size)
        objects = np.array([by_class[c][rng.integers(0, by_class[c].size)] for c in cls_pick],
                           dtype=np.int64)
        va = views[rng.integers(0, views.size, size=batch_size)]
        vb = views[rng.integers(0, views.size, size=batch_size)]
        return objects, va.astype(np.int64), vb.astype(np.int64)


def read_category(directory: str | Path, class_id: str, split: str) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """One category's files of one split: ``(images uint8 [N, 24, 4, S, S], voxels bool
    [N, R, R, R] in this project's convention)``.  Raises
    :class:`~bench_softras.data.layout.DatasetFileError` naming a missing or malformed
    file, or a file of a cached build that no longer matches the SHA-256 its manifest
    records (:func:`~.cache_check.verify_manifest`: checked on every read)."""
    ip, vp = images_path(directory, class_id, split), voxels_path(directory, class_id, split)
    bad = verify_manifest(directory, [ip.name, vp.name])
    if bad:
        raise DatasetFileError(
            f"{Path(directory) / bad[0]}: does not match the SHA-256 recorded in its "
            f"{MANIFEST} (edited or damaged since it was built); rebuild the data set (the "
            "main job rebuilds it; or delete the directory and run again)")
    images = check_images(read_npz_array(ip), ip)
    voxels = check_voxels(read_npz_array(vp), vp)
    if voxels.shape[0] != images.shape[0]:
        raise DatasetFileError(
            f"{vp}: holds {voxels.shape[0]} objects but {ip.name} holds {images.shape[0]}; "
            "they must match object for object"
        )
    return images, voxels_from_file(voxels)


def _class_ids_of(directory: Path, split: str,
                  class_ids: Sequence[str] | str | None) -> list[str]:
    """``class_ids`` as a list without repeats; None or empty: every category with an
    images file for ``split`` in ``directory`` (sorted)."""
    if isinstance(class_ids, str):
        class_ids = [class_ids]
    if not class_ids:
        class_ids = find_class_ids(directory, split)
        if not class_ids:
            raise DatasetFileError(
                f"{directory}: no '{{class_id}}_{split}_images.npz' files found (expected the "
                "ShapeNet benchmark layout, e.g. 03001627_train_images.npz)"
            )
    return list(dict.fromkeys(class_ids))


def load_split(directory: str | Path, split: str = "train",
               class_ids: Sequence[str] | str | None = None,
               max_per_class: int = 0) -> MultiViewData:
    """Load ``split`` (``train``, ``val``, ``test``) of the categories ``class_ids``
    (None or empty: every category with an images file for the split in ``directory``)
    from benchmark ``.npz`` files; ``max_per_class`` > 0 keeps the first that many
    objects of each category.

    Objects are concatenated in ``class_ids`` order.  Voxels are converted to this
    project's convention (:func:`~bench_softras.data.layout.voxels_from_file`); images
    stay uint8 (see :meth:`MultiViewData.images_at`).  Missing or malformed files raise
    :class:`~bench_softras.data.layout.DatasetFileError` naming the file.
    """
    directory = Path(directory)
    check_split(split)
    if not directory.is_dir():
        raise DatasetFileError(f"{directory}: data set directory not found")
    class_ids = _class_ids_of(directory, split, class_ids)
    images, voxels, ids = [], [], []
    for cid in class_ids:
        im, vx = read_category(directory, cid, split)
        if images and (im.shape[-1] != images[0].shape[-1] or vx.shape[-1] != voxels[0].shape[-1]):
            raise DatasetFileError(
                f"{images_path(directory, cid, split)}: image size {im.shape[-1]} / voxel "
                f"resolution {vx.shape[-1]} differ from the first category's "
                f"({images[0].shape[-1]} / {voxels[0].shape[-1]})"
            )
        images.append(im)
        voxels.append(vx)
        ids.append(np.full(im.shape[0], cid, dtype=object))
    data = MultiViewData(
        images=np.concatenate(images) if len(images) > 1 else images[0],
        voxels=np.ascontiguousarray(np.concatenate(voxels)),
        class_ids=np.concatenate(ids).astype(str),
    )
    return data.limit_per_class(max_per_class)
