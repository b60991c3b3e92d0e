"""Per-object evaluation results: the unit of the paired comparisons.

A reconstruction evaluation predicts every test object from each of its views
(:func:`bench_softras.experiments.evaluate.per_object_iou`, float64 ``[N, V]``).  Keeping
every number, labelled, lets the report compare renderers on the same objects, views
and seeds (:mod:`bench_softras.report.stats`) instead of on category means alone.

Table columns (:data:`PER_OBJECT_COLUMNS`): ``renderer``, ``seed`` (Int64),
``class_id``, ``category``, ``object`` (the object's position within its class in the
evaluated split, 0-based, the order of the data files), ``view`` (benchmark view id
0..23 of the input image), ``voxel_iou``, ``preset``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench_softras import results_schema as schema
from bench_softras.data import MultiViewData, category_name

PER_OBJECT_COLUMNS = ["renderer", "seed", "class_id", "category", "object", "view",
                      "voxel_iou", "preset"]
#: Suffix of a run's cached per-object evaluation (beside the per-class CSV).
PER_OBJECT_SUFFIX = "_objects.parquet"
#: Stem of the stage-level table of every run's per-object results.
PER_OBJECT_STEM = schema.RECON_PER_OBJECT


def per_object_table(ious: np.ndarray, data: MultiViewData, views: Sequence[int],
                     renderer: str, seed: int | None, preset: str) -> pd.DataFrame:
    """The tidy per-object table of ``ious`` float ``[N, len(views)]`` (object ``n`` of
    ``data`` predicted from ``views[k]``)."""
    ious = np.asarray(ious, dtype=np.float64)
    views = np.asarray(list(views), dtype=np.int64)
    if ious.shape != (len(data), views.size):
        raise ValueError(f"ious must have shape [{len(data)}, {views.size}], got {ious.shape}")
    position = np.zeros(len(data), dtype=np.int64)
    for cid in data.classes:
        idx = data.indices_of(cid)
        position[idx] = np.arange(idx.size)
    n, v = ious.shape
    cids = np.repeat(data.class_ids, v)
    df = pd.DataFrame({
        "renderer": renderer, "seed": seed, "class_id": cids,
        "category": [category_name(c) for c in cids],
        "object": np.repeat(position, v), "view": np.tile(views, n),
        "voxel_iou": ious.reshape(-1), "preset": preset,
    }, columns=PER_OBJECT_COLUMNS)
    df["seed"] = df["seed"].astype("Int64")
    return df
