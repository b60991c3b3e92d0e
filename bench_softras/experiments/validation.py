"""Validation during reconstruction training: the learning curve of a run.

Every ``ReconConfig.val_every`` steps (and at step 0 and at ``iterations``) the
generator predicts a mesh from each of ``val_views`` evenly spaced views
(:func:`bench_softras.experiments.multiview.training_views`) of a fixed validation
subset (the first ``val_objects`` objects of each class of the ``val`` split) and two
numbers are recorded:

* ``val_voxel_iou``: mean voxel IoU of the predictions (the evaluation's rule,
  :func:`metrics.voxelize_prediction`) against the objects'
  voxels;
* ``val_silhouette_iou``: mean IoU of the prediction drawn by the exact ``hard``
  renderer in the input view against the input's alpha channel, both thresholded at
  0.5.

Records go to ``curve.jsonl`` in the run directory
(:data:`bench_softras.runs.CURVE_FILE`), one JSON object per validation: ``step``, the
two IoUs, ``val_s`` (seconds this validation took), ``train_s`` (training seconds of
this call up to this step, validation time excluded), ``resumed_at`` (the step this call
started from: one value per call, so time can be summed across resumed calls) and the
subset's size. The file is rewritten whole by temp-and-rename at every record; on
resume, records after the resumed step are dropped (they are redone). Training loss per
log step stays in ``metrics.jsonl`` (:mod:`bench_softras.experiments.train`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

import metrics
from bench_softras.atomic import write_text
from bench_softras.data import MultiViewData, load_split
from bench_softras.jsonl import read_records
from bench_softras.runs import CURVE_FILE
from bench_softras.settings import ReconConfig
from renderers import Camera

from .model import MeshGenerator
from .multiview import training_views
from .renderer_choice import make_renderer

#: The split the validation subset is drawn from.
VAL_SPLIT = "val"

log = logging.getLogger(__name__)


def read_curve(path: str | Path) -> list[dict]:
    """The records of a ``curve.jsonl`` in order (a truncated or garbled line, e.g. from
    a crash in an older writer, is skipped with a warning,
    :func:`bench_softras.jsonl.read_records`); ``[]`` when the file is absent."""
    return [rec for rec in read_records(path) if "step" in rec]


def validation_subset(config: ReconConfig) -> MultiViewData | None:
    """The fixed validation objects of ``config`` (``None`` when ``val_every`` is 0, no
    ``data_dir`` is set, or the directory has no ``val`` split; the reason is logged)."""
    if config.val_every <= 0:
        return None
    if not config.data_dir:
        log.warning("no validation curve: the config names no data_dir")
        return None
    try:
        return load_split(config.data_dir, VAL_SPLIT, config.class_ids, config.val_objects)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.warning("no validation curve: the %s split cannot be loaded (%s)", VAL_SPLIT, exc)
        return None


@torch.no_grad()
def validate(model: MeshGenerator, data: MultiViewData, image_size: int, num_views: int,
             batch_size: int = 96, device="cpu") -> dict[str, float]:
    """Mean voxel IoU and silhouette IoU of ``model`` on every object of ``data`` seen
    from ``num_views`` evenly spaced views; the model's train/eval mode is restored."""

    views = training_views(num_views)
    objects = np.repeat(np.arange(len(data)), views.size)
    view_ids = np.tile(views, len(data))
    hard = make_renderer("hard", image_size)
    faces = model.faces
    was_training = model.training
    model.eval()
    vox, sil = [], []
    try:
        for s in range(0, objects.size, batch_size):
            o, v = objects[s:s + batch_size], view_ids[s:s + batch_size]
            img = data.images_at(o, v, image_size, device)
            verts = model(img).float()
            pred = metrics.voxelize_prediction(verts.cpu().numpy(), faces.cpu().numpy())
            vox.append(np.asarray(metrics.voxel_iou(pred, data.voxels[o])))
            drawn = hard.render(verts.cpu(), faces.cpu(), Camera.benchmark(torch.from_numpy(v)))
            sil.append(np.asarray(metrics.silhouette_iou(
                drawn.float().numpy(), img[:, 3].cpu().numpy(), threshold=0.5)))
    finally:
        model.train(was_training)
    return {"val_voxel_iou": float(np.mean(np.concatenate(vox))),
            "val_silhouette_iou": float(np.mean(np.concatenate(sil)))}


class CurveRecorder:
    """Validates a run at the steps :attr:`due` names and keeps ``curve.jsonl``.

    ``data``: the validation subset; ``start_step``: the step this call starts from
    (records after it are dropped).  :meth:`maybe` is called with the model after each
    step (and once before the first)."""

    def __init__(self, run_dir: str | Path, config: ReconConfig, data: MultiViewData,
                 start_step: int, device="cpu") -> None:
        self.path = Path(run_dir) / CURVE_FILE
        self.config, self.data, self.device = config, data, device
        self.start_step = int(start_step)
        self.records = [r for r in read_curve(self.path) if int(r["step"]) <= start_step]
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.records))
        self.val_seconds = 0.0
        self.t0 = time.perf_counter()

    def due(self, step: int) -> bool:
        """Whether ``step`` gets a validation record (every ``val_every``, 0, the end)."""
        every = self.config.val_every
        return every > 0 and (step % every == 0 or step == self.config.iterations)

    def maybe(self, step: int, model: MeshGenerator) -> dict | None:
        """Validate at ``step`` when due and not recorded yet; returns the record."""
        if not self.due(step) or any(int(r["step"]) == step for r in self.records):
            return None
        t = time.perf_counter()
        res = validate(model, self.data, self.config.image_size, self.config.val_views,
                       self.config.eval_batch_size, self.device)
        val_s = time.perf_counter() - t
        train_s = t - self.t0 - self.val_seconds
        self.val_seconds += val_s
        rec = {"step": int(step), **res, "val_s": round(val_s, 4),
               "train_s": round(train_s, 3), "resumed_at": self.start_step,
               "val_objects": len(self.data), "val_views": self.config.val_views}
        self.records.append(rec)
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.records))
        return rec
