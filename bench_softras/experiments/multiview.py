"""The views of the benchmark an experiment trains on, and where its data set lies.

The data set itself (the one in-memory class, :class:`bench_softras.data.MultiViewData`,
and its loader :func:`bench_softras.data.load_split`) lives in :mod:`bench_softras.data`.
:func:`training_views` / :func:`fitting_views` pick view ids, :func:`view_camera` gives
their cameras (ids ``24..47``: a second ring seen from below, for fits only).  Where
the data set lies is the caller's business (the main job, or a command:
:func:`bench_softras.commands.options.resolve_data_dir`).
"""

from __future__ import annotations

import numpy as np
import torch

from bench_softras.data.layout import MAX_FIT_VIEWS, NUM_VIEWS
from renderers.camera import DEFAULT_ELEVATION, Camera


def training_views(num_views: int) -> np.ndarray:
    """``num_views`` of the 24 benchmark view ids, evenly spaced in azimuth (int64)."""
    if not 1 <= num_views <= NUM_VIEWS:
        raise ValueError(f"num_views must lie in 1..{NUM_VIEWS}, got {num_views}")
    return np.unique(np.floor(np.arange(num_views) * NUM_VIEWS / num_views).astype(np.int64))


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
