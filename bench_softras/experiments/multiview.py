"""The in-memory multi-view data set the experiments train and evaluate on.

:class:`MultiViewData` holds, for ``N`` objects, the 24 benchmark views as uint8 RGBA
images ``[N, 24, 4, H, W]`` (view ``k`` seen by ``renderers.Camera.benchmark(k)``), the
ground-truth occupancy ``[N, R, R, R]`` bool on the grid of :mod:`metrics.voxel_grid`,
and a class id per object.  It is also a map-style torch ``Dataset`` whose items are
``(images float32 [24, 4, H, W] in [0, 1], voxels bool [R, R, R], class_id)``, and
:meth:`MultiViewData.from_dataset` builds one from any data set with such items.

:func:`load_split` is the adapter to :mod:`bench_softras.data`'s loader of the ShapeNet
layout (``{class_id}_{split}_images.npz`` / ``_voxels.npz``), :func:`from_loader`
wraps an already loaded ``bench_softras.data.Dataset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench_softras import data as datasets
from renderers.camera import DEFAULT_ELEVATION, Camera

from .renderer_choice import make_renderer

NUM_VIEWS = 24


@dataclass
class MultiViewData:
    """``images`` uint8 ``[N, 24, 4, H, W]``, ``voxels`` bool ``[N, R, R, R]``,
    ``class_ids`` str ``[N]`` (see the module docstring)."""

    images: np.ndarray
    voxels: np.ndarray
    class_ids: np.ndarray

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

    # -- properties and selections ----------------------------------------------------
    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def classes(self) -> list[str]:
        """Class ids in order of first appearance."""
        _, first = np.unique(self.class_ids, return_index=True)
        return [str(self.class_ids[i]) for i in sorted(first)]

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

    # -- batches ----------------------------------------------------------------------
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


def training_views(num_views: int) -> np.ndarray:
    """``num_views`` of the 24 benchmark view ids, evenly spaced in azimuth (int64)."""
    if not 1 <= num_views <= NUM_VIEWS:
        raise ValueError(f"num_views must lie in 1..{NUM_VIEWS}, got {num_views}")
    return np.unique(np.floor(np.arange(num_views) * NUM_VIEWS / num_views).astype(np.int64))


#: Views a mesh fit may use beyond the 24 of the data set: a second ring, ids 24..47,
#: seen from below (see :func:`fitting_views`).
MAX_FIT_VIEWS = 2 * NUM_VIEWS


def fitting_views(num_views: int) -> np.ndarray:
    """View ids (int64, sorted) a mesh fit may train on.

    ``num_views <= 24``: :func:`training_views` (evenly spaced benchmark views).
    ``25..48``: all 24 benchmark views plus ``num_views - 24`` evenly spaced views of the
    lower ring (ids ``24..47``, :func:`view_camera`): the paper's "more comprehensive
    views" (Fig. 8), which only a fit can have, since it renders its own targets."""
    if not 1 <= num_views <= MAX_FIT_VIEWS:
        raise ValueError(f"num_views must lie in 1..{MAX_FIT_VIEWS}, got {num_views}")
    if num_views <= NUM_VIEWS:
        return training_views(num_views)
    return np.concatenate([np.arange(NUM_VIEWS), NUM_VIEWS + training_views(num_views - NUM_VIEWS)])


def view_camera(views):
    """The camera of view ids ``views`` (ints in ``0..47``): ids ``0..23`` are the
    benchmark views (:meth:`renderers.Camera.benchmark`); id ``24 + k`` has view ``k``'s
    azimuth, distance and viewing angle at the mirrored elevation (-30 degrees: from
    below, where the benchmark views never look)."""
    ids = torch.as_tensor(np.asarray(views), dtype=torch.int64).reshape(-1)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= MAX_FIT_VIEWS):
        raise ValueError(f"view ids must lie in 0..{MAX_FIT_VIEWS - 1}")
    bench = Camera.benchmark(ids % NUM_VIEWS)
    if not bool((ids >= NUM_VIEWS).any()):
        return bench
    elevation = torch.where(ids < NUM_VIEWS, DEFAULT_ELEVATION, -DEFAULT_ELEVATION)
    return Camera(azimuth=bench.azimuth, elevation=elevation.to(torch.float64),
                  viewing_angle=bench.viewing_angle)


def load_split(data_dir: str | Path, split: str, class_ids: Sequence[str] = (),
               max_per_class: int = 0) -> MultiViewData:
    """Load one split (``train``, ``val``, ``test``) of ``class_ids`` (default: every
    class present) from ``data_dir`` with :func:`bench_softras.data.load_dataset`
    (images and voxels in this project's conventions); ``max_per_class`` > 0 keeps the
    first that many objects of each class."""
    ds = datasets.load_dataset(data_dir, list(class_ids) or None, split=split)
    return from_loader(ds).limit_per_class(max_per_class)


def from_loader(dataset) -> MultiViewData:
    """Adapter from a :class:`bench_softras.data.Dataset` (images uint8
    ``[N, 24, 4, S, S]``, voxels bool, ``class_ids``) without copying the arrays."""
    return MultiViewData(dataset.images, dataset.voxels, dataset.class_ids)


def resolve_data_dir(data_dir: str | Path | None, preset,
                     progress: bool = True) -> Path:
    """``data_dir`` when given; otherwise the built-in synthetic data set of the
    preset's size (``preset.synthetic_data``), built once with the exact ``hard``
    renderer at 64x64 and cached (:func:`bench_softras.data.build_synthetic`)."""
    if data_dir:
        return Path(data_dir)
    # Not at module level: bench_softras.settings imports this module (its view counts).
    from bench_softras.settings import get_preset

    p = get_preset(preset)
    return datasets.build_synthetic(None, p.synthetic_data, make_renderer("hard", 64),
                                    progress=progress)
