"""The views of the benchmark an experiment trains on, and where its data set lies.

The data set itself (the one in-memory class, :class:`bench_softras.data.MultiViewData`,
and its loader :func:`bench_softras.data.load_split`) lives in :mod:`bench_softras.data`.
:func:`training_views` / :func:`fitting_views` pick view ids, :func:`view_camera` gives
their cameras (ids ``24..47``: a second ring seen from below, for fits only), and
:func:`resolve_data_dir` builds the preset's synthetic data set when no directory is
given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench_softras import data as datasets
from bench_softras.data.layout import MAX_FIT_VIEWS, NUM_VIEWS
from renderers.camera import DEFAULT_ELEVATION, Camera

from .renderer_choice import make_renderer


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
