"""Train the mesh generator with multi-view silhouettes (Sec. 4-5 of the paper).

Every step draws ``B`` objects with two views each (``a``, ``b``), predicts a mesh from
each image, renders each prediction at both viewpoints with the chosen renderer and
minimizes Eq. 6: the mean of the four IoU losses (Eq. 3) against the alpha channels,
plus ``lambda`` times the Laplacian (Eq. 4) and ``mu`` times the flattening loss (Eq. 5),
with Adam.  With ``color_weight > 0`` the generator also predicts vertex colours, learnt
from an l2 loss on the RGB channels of the same four cross-rendered views (the paper's
colour reconstruction, :class:`ReconConfig`).  The renderer is a parameter: the same
code trains with ``softras``, ``n3mr``, ``hard`` or any registered renderer.

A run lives in one directory (``config.out_dir``): ``config.json`` (the full
configuration), ``train.log`` (the configuration as JSON, then progress lines),
``metrics.jsonl`` (one JSON line per logged step) and ``checkpoints/step_XXXXXXX.pt``
(model, optimizer, step and every random state), written every ``checkpoint_every``
steps and every ``checkpoint_minutes`` of wall time; the newest ``keep_checkpoints``
are kept while it trains, and once the run has reached ``iterations`` only the final
one stays (:func:`~bench_softras.experiments.resume.prune_finished`).  Running the same
command again resumes from the latest checkpoint that loads (a damaged one is moved
aside with a warning; a cut-off line of ``metrics.jsonl`` is skipped;
:mod:`bench_softras.experiments.resume`); a finished run's resumption does nothing.

The optimizer is Adam, fused (:func:`make_optimizer`); a resumed run keeps the variant
its checkpoint was written with (the optimizer's saved settings are restored with its
state), so it continues as the uninterrupted run would have.

Data-parallel: run under ``torchrun --nproc_per_node=N`` (``WORLD_SIZE > 1``) and each
process trains on ``batch_size / N`` objects per step with DDP (gloo on CPU, NCCL on
CUDA); rank 0 writes the files.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

import renderers
from bench_softras.atomic import write_bytes, write_json
from bench_softras.data import MultiViewData, load_split
from bench_softras.errors import ConfigError
from bench_softras.runlock import run_lock
from bench_softras.runs import METRICS_FILE
from bench_softras.settings import ReconConfig
from renderers import Camera, render_vertex_colors

from .losses import MeshTopology, mesh_topology, multiview_iou_loss, regularizer_terms
from .model import MeshGenerator, default_template
from .multiview import training_views
from .renderer_choice import accepts_sigma, ensure_registered, make_renderer, renderer_name
from .resume import (
    DATA_FINGERPRINT_KEY,
    CheckpointError,
    WallClock,
    checkpoint_path,
    drop_metrics_after,
    latest_checkpoint,
    load_checkpoint,
    load_latest_intact,
    prune_checkpoints,
    prune_finished,
    set_aside,
)
from .validation import CurveRecorder, validation_subset

#: Config fields that may change between an interrupted run and its resumption.
#: ``data_dir`` may change too when the checkpoint's data fingerprint (by content) is the
#: training data's (another machine's cache path, a moved copy); other data is never
#: resumed (:func:`_resume`).
RESUMABLE_CHANGES = frozenset({
    "iterations", "checkpoint_every", "log_every", "eval_batch_size", "device", "out_dir",
    "keep_checkpoints", "checkpoint_minutes", "val_every", "val_objects", "val_views",
})

log = logging.getLogger(__name__)


# -- distributed helpers ------------------------------------------------------------
@dataclass(frozen=True)
class Dist:
    """The process group seen by this process (``world == 1``: not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def is_distributed() -> bool:
    """Whether this process is one rank of several: launched by ``torchrun``
    (``WORLD_SIZE > 1``) or in a process group already initialized."""
    return bool((dist.is_available() and dist.is_initialized())
                or int(os.environ.get("WORLD_SIZE", "1")) > 1)


def setup_distributed(device: str) -> Dist:
    """Join the process group when :func:`is_distributed` (``torchrun``, or one already
    initialized); gloo on CPU, NCCL on CUDA."""
    if not is_distributed():
        return Dist()
    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size())
    if not dist.is_available():  # pragma: no cover - torch built without distributed
        raise RuntimeError("WORLD_SIZE > 1 but torch.distributed is not available")
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    return Dist(dist.get_rank(), dist.get_world_size())


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes (identical parameters, identical digests).
    Buffers are left out: under DDP each rank's batch-norm running statistics follow its
    own last batch (DDP broadcasts rank 0's at every forward; rank 0's are saved)."""
    h = hashlib.sha256()
    for name, t in sorted(model.named_parameters()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _gather(obj, d: Dist) -> list:
    if not d.active:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


# -- building blocks ----------------------------------------------------------------
def build_model(config: ReconConfig, template=None) -> MeshGenerator:
    """The generator for ``config`` (template: ``(vertices [V, 3], faces [F, 3])``,
    default :func:`model.default_template`), initialized from ``config.seed``."""
    tv, tf = template if template is not None else default_template()
    torch.manual_seed(config.seed)
    model = MeshGenerator(config.model, config.image_size, torch.as_tensor(tv),
                          torch.as_tensor(tf), colors=config.color_weight > 0)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


#: Device types on which :func:`make_optimizer` uses torch's fused Adam (one kernel per
#: step for all parameters); elsewhere torch's default implementation.
FUSED_ADAM_DEVICES = frozenset({"cpu", "cuda"})


def make_optimizer(model: torch.nn.Module, config: ReconConfig) -> torch.optim.Adam:
    """Adam over ``model``'s parameters at ``config.lr`` and ``config.betas``; fused
    where the parameters live on a :data:`FUSED_ADAM_DEVICES` device.  The fused step is
    Adam's update in one pass per tensor: on CPU about 6x less time than the default
    per-tensor loop for the light generator (docs/performance.md), equal to it up to
    float rounding (not bit for bit: about 1e-8 apart after a few steps)."""
    params = list(model.parameters())
    fused = bool(params) and all(p.device.type in FUSED_ADAM_DEVICES for p in params)
    return torch.optim.Adam(params, lr=config.lr, betas=config.betas,
                            fused=True if fused else None)


def generator_forward(model, images: torch.Tensor, config: ReconConfig,
                      with_colors: bool = False):
    """``model(images, with_colors)`` as a training step runs it (``images`` [N, 4, S,
    S]): channels-last input when ``config.channels_last``, bfloat16 autocast when
    ``config.autocast == "bf16"``; the vertices (and colours) come out in the
    parameters' dtype either way."""
    if config.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(images.device.type, dtype=torch.bfloat16,
                        enabled=config.autocast == "bf16"):
        return model(images, with_colors=with_colors)


def decay(config: ReconConfig, step: int) -> float:
    """The sigma multiplier at 0-based iteration ``step`` (and the learning rate's with
    ``lr_schedule="step"``): ``decay_factor`` from ``lr_decay_at`` on, else 1."""
    return config.decay_factor if config.lr_decay_at and step >= config.lr_decay_at else 1.0


def lr_factor(config: ReconConfig, step: int) -> float:
    """The learning-rate multiplier at 0-based iteration ``step`` under
    ``config.lr_schedule`` (:data:`~bench_softras.settings.LR_SCHEDULES`): ``step``:
    :func:`decay`; ``cosine``: ``(1 + cos(pi * step / iterations)) / 2``, 1 at step 0
    and 0 at ``iterations`` (the closed form of PyTorch's ``CosineAnnealingLR``, a pure
    function of the step so that a resumed run continues the same curve)."""
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / max(config.iterations, 1)))
    return decay(config, step)


def train_step(model, optimizer, renderer, topo: MeshTopology, data: MultiViewData,
               rng: np.random.Generator, config: ReconConfig, batch_size: int,
               views: np.ndarray, faces: torch.Tensor, device) -> dict[str, float]:
    """One optimisation step on ``batch_size`` objects; returns the loss terms.

    Raises ``FloatingPointError`` when the loss is not finite.
    """
    objects, va, vb = data.random_batch(batch_size, rng, views)
    img_a = data.images_at(objects, va, config.image_size, device)
    img_b = data.images_at(objects, vb, config.image_size, device)
    with_colors = config.color_weight > 0
    out = generator_forward(model, torch.cat([img_a, img_b]), config, with_colors)
    vertices, colors = out if with_colors else (out, None)  # [M_a; M_b], [2B, V, 3]
    view_ids = torch.from_numpy(np.concatenate([va, va, vb, vb]))
    camera = Camera.benchmark(view_ids)
    sil = renderer.render(torch.cat([vertices, vertices]), faces, camera)
    sil = sil.to(vertices.dtype)
    iou = multiview_iou_loss(sil, img_a[:, 3], img_b[:, 3])
    reg, parts = regularizer_terms(vertices, topo, config.lambda_laplacian,
                                   config.lambda_flatten, config.use_laplacian,
                                   config.use_flatten)
    loss = iou + reg
    if with_colors:
        # Same order as the silhouettes: [M_a@V_a, M_b@V_a, M_a@V_b, M_b@V_b].
        rgb = render_vertex_colors(torch.cat([vertices, vertices]), faces,
                                   torch.cat([colors, colors]), camera, config.image_size)
        target = torch.cat([img_a, img_a, img_b, img_b])[:, :3]
        color_l2 = torch.mean((rgb - target) ** 2)
        loss = loss + config.color_weight * color_l2
        parts = {**parts, "color_l2": color_l2.detach()}
    terms = _host_values({"loss": loss, "iou": iou, **parts})
    if not math.isfinite(terms["loss"]):
        regs = {k: v for k, v in terms.items() if k not in ("loss", "iou")}
        raise FloatingPointError(f"non-finite loss {terms['loss']} (IoU loss "
                                 f"{terms['iou']}, regularizers {regs})")
    optimizer.zero_grad(set_to_none=True)
    if loss.requires_grad:
        loss.backward()
        optimizer.step()
    return {**terms, "iou": 1.0 - terms["iou"]}


def _host_values(tensors: dict[str, torch.Tensor]) -> dict[str, float]:
    """The 0-d tensors' values as Python floats, read in one host transfer (one device
    synchronisation per step instead of one per value; exact: float32 -> float64)."""
    values = torch.stack([t.detach().to(torch.float64) for t in tensors.values()])
    return dict(zip(tensors, values.tolist(), strict=True))


# -- checkpoints (reading them back: :mod:`.resume`) ---------------------------------
def _save_checkpoint(run_dir: Path, model, optimizer, step: int, rng_states: list,
                     config: ReconConfig, data_fingerprint: str = "") -> Path:
    path = checkpoint_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Tensors and plain data only (the config through JSON: lists, strings, numbers),
    # so that the weights-only load of a resume (resume.load_checkpoint) reads it back.
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": int(step),
        "numpy_rng": json.loads(json.dumps(rng_states)),
        "torch_rng": torch.get_rng_state(),
        "config": json.loads(json.dumps(config.to_dict(), default=str)),
        DATA_FINGERPRINT_KEY: str(data_fingerprint),
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    # Temp-and-rename: an interruption never leaves half a checkpoint, and a full disk
    # is an OSError naming the file (not a torch traceback).
    write_bytes(path, buf.getbuffer())
    prune_checkpoints(run_dir, config.keep_checkpoints)
    return path


def _training_data(config: ReconConfig, data: MultiViewData | None) -> MultiViewData:
    """``data`` limited per class, or the training split of ``config.data_dir`` (found or
    built by the caller: the main job, or a command,
    :func:`bench_softras.commands.options.resolve_data_dir`)."""
    if data is not None:
        return data.limit_per_class(config.max_train_objects)
    if not config.data_dir:
        raise ConfigError("ReconConfig.data_dir is empty: give the directory of the data set "
                          "(softras-bench train builds the preset's synthetic one when "
                          "--data-dir is left out)")
    return load_split(config.data_dir, "train", config.class_ids, config.max_train_objects)


def _resume(run_dir: Path, config: ReconConfig, model, optimizer, rng: np.random.Generator,
            device, d: Dist, data_fp: str = "") -> tuple[Path | None, int]:
    """Restore model, optimizer and random states from the newest intact checkpoint;
    returns ``(its path, its step)`` or ``(None, 0)`` for a fresh run.  A checkpoint
    trained on other data (``data_fp``: the training data's fingerprint) is not resumed:
    rank 0 sets the run aside (:func:`~.resume.set_aside`) and training starts again."""
    ckpt, state = load_latest_intact(run_dir, device, move_aside=d.is_main)
    if ckpt is None:
        return None, 0
    saved_fp = state.get(DATA_FINGERPRINT_KEY) or ""
    if saved_fp and data_fp and saved_fp != data_fp:
        if d.is_main:
            set_aside(run_dir, f"{ckpt} was trained on other data (fingerprint {saved_fp}, "
                               f"now {data_fp})")
        return None, 0
    _check_resumable(state["config"], config, same_data=bool(saved_fp) and saved_fp == data_fp)
    if len(state["numpy_rng"]) != d.world:
        raise ConfigError(f"checkpoint {ckpt} was written by {len(state['numpy_rng'])} "
                          f"processes; resume it with as many (now {d.world})")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["numpy_rng"][d.rank]
    torch.set_rng_state(state["torch_rng"])
    return ckpt, int(state["step"])


def _check_resumable(saved: dict, config: ReconConfig, same_data: bool = False) -> None:
    """Refuse to resume a checkpoint of another configuration (``same_data``: its data
    fingerprint is the training data's, so the data's path may differ)."""
    # Fields added after a checkpoint was written take their defaults.
    saved = ReconConfig.from_dict(saved).to_dict()
    now = config.to_dict()
    # A cosine schedule is a function of ``iterations``: extending such a run would
    # bend the curve it has already followed.
    free = RESUMABLE_CHANGES - ({"iterations"} if now["lr_schedule"] == "cosine" else set())
    free = free | ({"data_dir"} if same_data else set())
    diff = sorted(k for k in set(saved) | set(now)
                  if k not in free and saved.get(k) != now.get(k))
    if diff:
        why = (" (lr_schedule='cosine' anneals over `iterations`, so such a run cannot be "
               "extended)" if "iterations" in diff else "")
        raise ConfigError(
            "the run directory holds a checkpoint of a different configuration (fields "
            f"{diff} differ{why}); use another out_dir or delete the old checkpoints"
        )


def load_generator(checkpoint: str | Path, template=None,
                   device="cpu") -> tuple[MeshGenerator, ReconConfig]:
    """The trained generator (in eval mode) and its config from a checkpoint file, read
    weights only (:func:`~bench_softras.experiments.resume.load_checkpoint`).  Raises
    :class:`~bench_softras.experiments.resume.CheckpointError` (one line naming the
    file) when it is no generator checkpoint of this suite."""
    state = load_checkpoint(checkpoint, device, keys=frozenset({"model", "config"}))
    try:
        config = ReconConfig.from_dict(state["config"])
        model = build_model(config, template).to(device)
        model.load_state_dict(state["model"])
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{checkpoint}: its config and weights do not make a "
                              f"generator of this suite ({type(exc).__name__}: {first})"
                              ) from exc
    model.eval()
    return model, config


# -- the training loop --------------------------------------------------------------
def train(config: ReconConfig, data: MultiViewData | None = None, *, template=None,
          stop_after: int | None = None, progress: bool = True, wait: bool = False,
          val_data: MultiViewData | None = None) -> Path:
    """Train (or resume) the run ``config.out_dir``; returns the last checkpoint path.

    ``data``: training set (default: ``load_split(config.data_dir, "train", ...)``);
    ``template``: ``(vertices, faces)`` of the sphere (default the benchmark's);
    ``stop_after``: run at most this many steps in this call (then checkpoint and
    return; calling again continues), ``None`` runs to ``config.iterations``.
    The run directory is locked while training (:mod:`bench_softras.runlock`): a second
    job into it raises :class:`~bench_softras.runlock.RunLockedError`, or with
    ``wait`` waits for the first to finish.
    """
    ensure_registered(config.renderer)  # an unknown name fails before any data loads
    kwargs = dict(template=template, stop_after=stop_after, progress=progress,
                  val_data=val_data)
    if not setup_distributed(config.device).is_main:
        return _train_locked(config, data, **kwargs)
    with run_lock(config.out_dir, wait=wait):
        return _train_locked(config, data, **kwargs)


def _train_locked(config: ReconConfig, data: MultiViewData | None, *, template,
                  stop_after: int | None, progress: bool,
                  val_data: MultiViewData | None) -> Path:
    d = setup_distributed(config.device)
    device = torch.device(config.device)
    if device.type == "cuda" and d.active:
        device = torch.device("cuda", d.rank % torch.cuda.device_count())
    if config.batch_size % d.world:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the "
                         f"{d.world} processes")
    run_dir = Path(config.out_dir)
    data = _training_data(config, data)
    model = build_model(config, template).to(device)
    topo = mesh_topology(model.faces, model.decoder.num_vertices).to(device)
    faces = model.faces
    optimizer = make_optimizer(model, config)
    rng = np.random.default_rng([config.seed, d.rank])
    data_fp = data.fingerprint()
    ckpt, step = _resume(run_dir, config, model, optimizer, rng, device, d, data_fp)
    start_step = step
    logger = _open_log(run_dir, config, d, resumed_from=ckpt) if d.is_main else None
    curve = _curve(run_dir, config, val_data, step, device) if logger is not None else None
    net = model
    if d.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    model.train()
    name = renderer_name(config.renderer)
    views = training_views(config.num_train_views)
    per_rank = config.batch_size // d.world
    renderer, sigma_now = None, None
    soft = accepts_sigma(config.renderer)  # hard, n3mr: sigma does not apply
    end = config.iterations if stop_after is None else min(config.iterations,
                                                           step + int(stop_after))
    bar = tqdm(total=config.iterations, initial=step, desc=f"train {name}",
               disable=not (progress and d.is_main), dynamic_ncols=True)
    t0 = time.perf_counter()
    clock = WallClock(config.checkpoint_minutes)
    last_saved = step if ckpt is not None else None
    path = ckpt
    try:
        if curve is not None:
            curve.maybe(step, model)
        while step < end:
            lr_now, factor = config.lr * lr_factor(config, step), decay(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr_now
            if renderer is None or (soft and sigma_now != config.sigma * factor):
                sigma_now = config.sigma * factor if soft else None
                renderer = make_renderer(config.renderer, config.image_size, sigma_now)
            terms = train_step(net, optimizer, renderer, topo, data, rng, config, per_rank,
                               views, faces, device)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{terms['loss']:.4f}", iou=f"{terms['iou']:.3f}")
            if logger is not None and (step % config.log_every == 0 or step == end):
                rec = {"step": step, **terms, "lr": lr_now, "sigma": sigma_now,
                       "wall_s": round(time.perf_counter() - t0, 3),
                       "resumed_at": start_step}
                _log_step(logger, run_dir, rec)
            if curve is not None:
                curve.maybe(step, model)
            if step % config.checkpoint_every == 0 or step == end or _agree(clock.due(), d):
                path = _checkpoint_all(run_dir, model, optimizer, step, rng, config, d, data_fp)
                last_saved = step
                clock.reset()
        if last_saved != step or path is None:
            path = _checkpoint_all(run_dir, model, optimizer, step, rng, config, d, data_fp)
        _check_ranks_agree(model, d, logger, step, path)
        if d.is_main and step >= config.iterations:  # finished: the final one stays
            prune_finished(run_dir, path, step)
    finally:
        bar.close()
        if logger is not None:
            for h in list(logger.handlers):
                h.close()
                logger.removeHandler(h)
    return latest_checkpoint(run_dir) if path is None else path


def _curve(run_dir: Path, config: ReconConfig, val_data: MultiViewData | None, step: int,
           device: torch.device) -> CurveRecorder | None:
    """Forget logged steps after ``step`` (redone now) and start the validation curve
    (``None`` when validation is off or the data has no validation split)."""
    drop_metrics_after(run_dir / METRICS_FILE, step)
    val_data = validation_subset(config) if val_data is None else val_data
    if val_data is None or config.val_every <= 0:
        return None
    return CurveRecorder(run_dir, config, val_data, step, device)


def _log_step(logger: logging.Logger, run_dir: Path, rec: dict) -> None:
    """One logged step: ``train.log`` and a line of ``metrics.jsonl``."""
    logger.info(json.dumps(rec))
    with open(run_dir / METRICS_FILE, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def _check_ranks_agree(model, d: Dist, logger: logging.Logger | None, step: int,
                       path: Path) -> None:
    """Data-parallel ranks must end with the same parameters; logs the stop."""
    digests = _gather(parameter_digest(model), d)
    if len(set(digests)) != 1:
        raise RuntimeError(f"data-parallel ranks disagree on the parameters: {digests}")
    if logger is not None:
        logger.info(json.dumps({"event": "stopped", "step": step, "world_size": d.world,
                                "rank_parameter_digests": digests, "checkpoint": str(path)}))


def _agree(flag: bool, d: Dist) -> bool:
    """Rank 0's ``flag`` on every rank (wall-time decisions differ between processes)."""
    if not d.active:
        return flag
    t = torch.tensor([int(flag)])
    dist.broadcast(t, src=0)
    return bool(t.item())


def _checkpoint_all(run_dir, model, optimizer, step, rng, config, d: Dist,
                    data_fp: str = "") -> Path:
    states = _gather(rng.bit_generator.state, d)
    path = checkpoint_path(run_dir, step)
    if d.is_main:
        path = _save_checkpoint(run_dir, model, optimizer, step, states, config, data_fp)
    if d.active:
        dist.barrier()
    return path


def _open_log(run_dir: Path, config: ReconConfig, d: Dist, resumed_from) -> logging.Logger:
    run_dir.mkdir(parents=True, exist_ok=True)
    header = {
        "config": config.to_dict(),
        "renderer": renderer_name(config.renderer),
        "renderers_available": renderers.available(),
        "world_size": d.world,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "resumed_from": str(resumed_from) if resumed_from else None,
    }
    write_json(run_dir / "config.json", header)
    logger = logging.getLogger(f"{__name__}.run.{run_dir.resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.info("config " + json.dumps(header))
    return logger
