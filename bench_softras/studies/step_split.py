"""Where a reconstruction training step spends its time (``softras-bench step-split``).

One step of :func:`bench_softras.experiments.train.train_step`, done with the same
building blocks (the preset's :class:`~bench_softras.settings.ReconConfig`,
:func:`~bench_softras.experiments.train.build_model` and ``make_optimizer``, the
data set's ``random_batch`` / ``images_at``, :class:`renderers.Camera`, the renderer from
:func:`~bench_softras.experiments.renderer_choice.make_renderer`,
:func:`~bench_softras.experiments.losses.multiview_iou_loss` and
:func:`~bench_softras.experiments.losses.regularizer_terms`, Adam) and the same gradient,
but with the backward pass cut at the predicted vertices so that each part is timed
alone (``time.perf_counter``, after ``cuda.synchronize`` on CUDA):

* ``data``: drawing the batch and building its images ``[2B, 4, S, S]``;
* ``generator_forward``: the mesh generator, images -> vertices ``[2B, V, 3]``;
* ``renderer_forward``: ``renderer.render`` of the ``4B`` cross views;
* ``loss_forward``: the IoU loss (Eq. 3) and the regularizers (Eq. 4, 5);
* ``loss_backward``: the IoU loss's gradient w.r.t. the silhouettes;
* ``renderer_backward``: silhouette gradient -> vertex gradient (through the renderer);
* ``generator_backward``: vertex gradient and regularizers -> parameter gradients;
* ``optimizer``: ``zero_grad`` and Adam's ``step``.

Groups (:data:`GROUPS`): ``data``, ``generator`` (forward + backward), ``renderer``
(forward + backward), ``loss`` (forward + backward), ``optimizer``.  The table gives the
median seconds of each part and group over ``steps`` timed steps (after ``warmup``) and
its share of the median step.  Silhouette-only steps (``color_weight = 0``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench_softras.atomic import write_table
from bench_softras.data import load_split
from bench_softras.errors import ConfigError
from bench_softras.experiments.losses import (
    mesh_topology,
    multiview_iou_loss,
    regularizer_terms,
)
from bench_softras.experiments.multiview import training_views
from bench_softras.experiments.renderer_choice import accepts_sigma, make_renderer
from bench_softras.experiments.train import build_model, generator_forward, make_optimizer
from bench_softras.settings import ReconConfig, with_overrides
from renderers import Camera

#: The timed parts of a step, in order.
PARTS = ("data", "generator_forward", "renderer_forward", "loss_forward", "loss_backward",
         "renderer_backward", "generator_backward", "optimizer")
#: Group -> its parts.
GROUPS = {"data": ("data",), "generator": ("generator_forward", "generator_backward"),
          "renderer": ("renderer_forward", "renderer_backward"),
          "loss": ("loss_forward", "loss_backward"), "optimizer": ("optimizer",)}
COLUMNS = ["item", "kind", "time_s", "share", "renderer", "preset", "batch_size",
           "image_size", "device", "steps"]
#: The renderer's share of a ``cpu``-preset step that issue 14 aims for (at most).
RENDERER_SHARE_TARGET = 0.15


@dataclass(frozen=True)
class StepSplitConfig:
    """``preset``: the name of the experiment preset (:mod:`bench_softras.settings`)
    whose reconstruction config is timed (its label in the table; the config itself is
    passed resolved, :func:`run_step_split`); ``renderer``: registered name; ``steps``
    timed steps after ``warmup`` untimed ones; ``device``; ``data_dir``: benchmark files
    (empty: the reconstruction config's ``data_dir``; ``softras-bench step-split``
    builds the preset's synthetic set when none is given); ``seed``."""

    preset: str = "cpu"
    renderer: str = "softras"
    steps: int = 5
    warmup: int = 1
    device: str = "cpu"
    data_dir: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.warmup < 0:
            raise ValueError(f"need steps >= 1 and warmup >= 0, got {self.steps}, "
                             f"{self.warmup}")


class _Laps:
    """Seconds between successive :meth:`lap` calls, by name (synchronising CUDA)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.times = device, {}
        self._t = self._now()

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def lap(self, name: str) -> None:
        now = self._now()
        self.times[name] = now - self._t
        self._t = now


def split_step(model, optimizer, renderer, topo, data, rng: np.random.Generator, config,
               batch_size: int, views: np.ndarray, faces: torch.Tensor,
               device) -> dict[str, float]:
    """One training step as :func:`bench_softras.experiments.train.train_step` (same
    arguments, same parameter update), timed part by part; returns seconds per
    :data:`PARTS` name.  Silhouette-only configs (``color_weight == 0``)."""
    if config.color_weight > 0:
        raise ValueError("split_step times silhouette-only steps; set color_weight = 0")
    laps = _Laps(torch.device(device))
    objects, va, vb = data.random_batch(batch_size, rng, views)
    img_a = data.images_at(objects, va, config.image_size, device)
    img_b = data.images_at(objects, vb, config.image_size, device)
    laps.lap("data")
    vertices = generator_forward(model, torch.cat([img_a, img_b]), config)  # [2B, V, 3]
    laps.lap("generator_forward")
    leaf = vertices.detach().requires_grad_(True)
    camera = Camera.benchmark(torch.from_numpy(np.concatenate([va, va, vb, vb])))
    sil = renderer.render(torch.cat([leaf, leaf]), faces, camera).to(leaf.dtype)
    laps.lap("renderer_forward")
    iou = multiview_iou_loss(sil, img_a[:, 3], img_b[:, 3])
    reg, _ = regularizer_terms(vertices, topo, config.lambda_laplacian,
                               config.lambda_flatten, config.use_laplacian, config.use_flatten)
    loss = iou + reg
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {float(loss)}")
    laps.lap("loss_forward")
    (g_sil,) = torch.autograd.grad(iou, sil)
    laps.lap("loss_backward")
    sil.backward(g_sil)
    laps.lap("renderer_backward")
    optimizer.zero_grad(set_to_none=True)
    outputs, grads = [vertices], [leaf.grad]
    if reg.requires_grad:
        outputs.append(reg)
        grads.append(torch.ones_like(reg))
    torch.autograd.backward(outputs, grads)
    laps.lap("generator_backward")
    optimizer.step()
    laps.lap("optimizer")
    return laps.times


def setup_step(cfg: StepSplitConfig, recon: ReconConfig) -> tuple:
    """Everything :func:`bench_softras.experiments.train.train` builds before its loop
    for the (resolved) reconstruction config ``recon``, as the argument tuple of
    :func:`split_step`."""
    recon = with_overrides(recon, renderer=cfg.renderer, seed=cfg.seed, device=cfg.device,
                           color_weight=0.0)
    data_dir = cfg.data_dir or recon.data_dir
    if not data_dir:
        raise ConfigError("the step split needs the data set's directory "
                          "(StepSplitConfig.data_dir or ReconConfig.data_dir)")
    data = load_split(data_dir, "train", recon.class_ids, recon.max_train_objects)
    device = torch.device(cfg.device)
    model = build_model(recon).to(device)
    model.train()
    topo = mesh_topology(model.faces, model.decoder.num_vertices).to(device)
    optimizer = make_optimizer(model, recon)
    sigma = recon.sigma if accepts_sigma(cfg.renderer) else None
    renderer = make_renderer(cfg.renderer, recon.image_size, sigma)
    return (model, optimizer, renderer, topo, data, np.random.default_rng(cfg.seed), recon,
            recon.batch_size, training_views(recon.num_train_views), model.faces, device)


def summarize(laps: Sequence[dict[str, float]], cfg: StepSplitConfig,
              recon) -> pd.DataFrame:
    """The table (:data:`COLUMNS`) of timed steps ``laps`` (:func:`split_step` results):
    the median of each part (``kind = part``), each group's sum of part medians
    (``kind = group``) and the median whole ``step``; ``share`` is over that step."""
    per = {p: statistics.median(t[p] for t in laps) for p in PARTS}
    step = statistics.median(sum(t.values()) for t in laps)
    rows = [(p, "part", per[p]) for p in PARTS]
    rows += [(g, "group", sum(per[p] for p in parts)) for g, parts in GROUPS.items()]
    rows.append(("step", "step", step))
    meta = {"renderer": cfg.renderer, "preset": cfg.preset, "batch_size": recon.batch_size,
            "image_size": recon.image_size, "device": cfg.device, "steps": len(laps)}
    return pd.DataFrame([{"item": i, "kind": k, "time_s": t, "share": t / step, **meta}
                         for i, k, t in rows], columns=COLUMNS)


def run_step_split(config: StepSplitConfig, recon: ReconConfig,
                   out_dir: str | Path | None = None) -> pd.DataFrame:
    """Time ``config.steps`` split steps of the reconstruction config ``recon`` (the
    preset's, resolved by the caller) after ``config.warmup``; returns
    :func:`summarize`'s table and writes ``step_split.csv`` to ``out_dir`` when given."""
    cfg = config
    args = setup_step(cfg, recon)
    laps = [split_step(*args) for _ in range(cfg.warmup + cfg.steps)][cfg.warmup:]
    df = summarize(laps, cfg, args[6])
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_table(df, Path(out_dir) / "step_split.csv")
    return df


def format_split(df: pd.DataFrame) -> str:
    """The groups and the step as text lines (ms and share), with the renderer's share
    against :data:`RENDERER_SHARE_TARGET`."""
    lines = []
    for _, row in df[df["kind"] != "part"].iterrows():
        lines.append(f"{row['item']:<12}{row['time_s'] * 1e3:>10.1f} ms{row['share']:>8.1%}")
    share = float(df.loc[df["item"] == "renderer", "share"].iloc[0])
    verdict = "meets" if share <= RENDERER_SHARE_TARGET else "misses"
    lines.append(f"renderer share {share:.1%} {verdict} the target <= "
                 f"{RENDERER_SHARE_TARGET:.0%}")
    return "\n".join(lines)
