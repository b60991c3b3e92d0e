"""Mesh fitting: deform the template sphere to the 24 silhouettes of one target mesh.

No network: per-vertex displacements of the 642-vertex sphere are optimized with Adam
(by default in the squashed N3MR/SoftRas space of :mod:`.model`, as the official
``demo_deform.py``; or directly in world units) on ``1 - IoU`` (Eq. 3) between the
silhouettes the renderer under test draws and the target's silhouettes, plus the
Laplacian and flattening regularizers (Eq. 4-6).  Target silhouettes come from an
exact renderer (``hard`` by default), so every renderer is fitted to the same images.
Every ``record_every`` steps the voxel IoU (:func:`metrics.voxelize`,
:func:`metrics.voxel_iou`) and the mean hard silhouette IoU over the 24 views are
recorded.

Colour (the paper's "Color Reconstruction", Sec. 4): with ``FitConfig.color_weight > 0``
per-vertex colours are fitted too, by ``color_weight`` times the l2 (mean squared)
difference between the colour pass :func:`renderers.render_vertex_colors` and the
target's Lambert-shaded renderings (:func:`bench_softras.data.shading.lambert_images`,
the data set's shading, in the target's base colour).  The colour pass gives no
gradient to the vertex positions, so the geometry still learns from the silhouettes
alone; ``color_mse`` records the colour error over all 24 views on the pixels covered
by the target or the fit.

Targets: a mesh file (anything open3d reads: .obj, .ply, .off, .stl, ...), a synthetic
category of :mod:`bench_softras.data` (``chair``, ``airplane``, ... or a class id),
``cube``, or an object of a data set directory (``<split>/<class_id>/<index>``, with
``data_dir``: its 24 stored silhouettes and voxels are the target, no mesh needed; see
:func:`data_target_spec`).  Files are normalized as ShapeNet is (bounding box centred,
diagonal 1).  The fitting benchmark over many targets, with per-renderer tuning, is
:mod:`.fit_bench`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import metrics
from bench_softras import results_schema as schema
from bench_softras.atomic import atomic_path, write_npz, write_table
from bench_softras.data import SPLITS, read_category, read_mesh
from bench_softras.data.cache_check import content_sha256
from bench_softras.data.categories import base_color, category_name, class_id_of
from bench_softras.data.generators import GENERATOR_VERSION, generate
from bench_softras.data.shading import lambert_images
from bench_softras.data.shapes import normalize
from bench_softras.errors import ConfigError
from bench_softras.runs import config_hash
from bench_softras.settings import (
    CPU,
    AblationConfig,
    FitConfig,
    Preset,
    require_preset,
    with_overrides,
)
from bench_softras.sweep import Unit
from metrics.meshes import box_mesh
from metrics.open3d_import import open3d
from renderers import Camera, render_vertex_colors

from .losses import iou_loss, mesh_topology, regularizers
from .model import default_template, sigmoid_parametrization, squash_deform
from .multiview import NUM_VIEWS, fitting_views, view_camera
from .renderer_choice import make_renderer, renderer_name

FIT_COLUMNS = ["renderer", "shape", "category", "step", "loss", "voxel_iou", "silhouette_iou",
               "color_mse", "seed", "wall_s"]
#: Category of targets read from mesh files the user names.
USER_CATEGORY = "user mesh"
_DATA_SPEC = re.compile(rf"^({'|'.join(SPLITS)})/([^/]+)/(\d+)$")
#: Base colour (RGB in [0, 1]) of targets without one (mesh files, ``cube``).
DEFAULT_TARGET_COLOR = (0.7, 0.7, 0.7)


@dataclass(frozen=True)
class Target:
    """A fitting target.  A mesh: ``vertices`` float64 ``[V, 3]`` (world units, inside
    the voxel cube), ``faces`` int64 ``[F, 3]``, ``parts`` int64 ``[F]`` closed-part ids
    or ``None`` (connected components), ``color`` its base RGB in [0, 1] (the colour of
    its shaded renderings).  Or a data-set object (``vertices``/``faces`` ``None``):
    ``silhouettes`` float32 ``[24, S, S]`` in [0, 1] (the stored alpha of the 24
    benchmark views) and ``voxels`` bool ``[R, R, R]`` (this project's convention).
    ``category``: the stratum of paired comparisons (a category name, ``cube`` or
    :data:`USER_CATEGORY`)."""

    name: str
    vertices: np.ndarray | None
    faces: np.ndarray | None
    parts: np.ndarray | None = None
    color: tuple[float, float, float] = DEFAULT_TARGET_COLOR
    silhouettes: np.ndarray | None = None
    voxels: np.ndarray | None = None
    category: str = ""


def data_target_spec(split: str, class_id: str, index: int) -> str:
    """The :func:`load_target` name of object ``index`` of ``class_id`` in ``split`` of
    a data set directory (``"test/02691156/3"``)."""
    return f"{split}/{class_id}/{int(index)}"


def is_data_spec(spec: str) -> bool:
    """Whether ``spec`` names a data-set object (``<split>/<class_id>/<index>``)."""
    return bool(_DATA_SPEC.match(str(spec)))


def data_target_name(class_id: str, index: int) -> str:
    """The shape name of a data-set target (``airplane_3``: its category, then its index)."""
    return f"{category_name(class_id)}_{int(index)}"


def data_targets(data_dir: str | Path, split: str, class_id: str,
                 indices) -> list[Target]:
    """Objects ``indices`` of ``class_id`` in ``split`` of the data set ``data_dir`` as
    image targets (one read of the category's files; ``ValueError`` naming the split
    when an index is past its end)."""
    images, voxels = read_category(data_dir, class_id, split)
    out = []
    for index in (int(i) for i in indices):
        if not 0 <= index < images.shape[0]:
            raise ValueError(f"target {data_target_spec(split, class_id, index)!r}: "
                             f"{class_id} {split} holds {images.shape[0]} objects in "
                             f"{data_dir}")
        sil = images[index, :, 3].astype(np.float32) / np.float32(255.0)
        out.append(Target(data_target_name(class_id, index), None, None, silhouettes=sil,
                          voxels=voxels[index], category=category_name(class_id)))
    return out


def _data_target(match: re.Match, data_dir: str | Path | None) -> Target:
    if not data_dir:
        raise ValueError(f"target {match.group(0)!r} is a data-set object: give the data "
                         "directory (data_dir / --data-dir)")
    return data_targets(data_dir, match.group(1), match.group(2), [match.group(3)])[0]


def load_target(shape: str, seed: int = 0, data_dir: str | Path | None = None) -> Target:
    """Resolve ``shape``: an existing mesh file, ``cube``, a synthetic category name /
    class id (object ``seed`` of :func:`bench_softras.data.generators.generate`), or a
    data-set object ``<split>/<class_id>/<index>`` of ``data_dir``
    (:func:`data_target_spec`)."""
    match = _DATA_SPEC.match(shape)
    if match:
        return _data_target(match, data_dir)
    name, identity = target_identity(shape)
    if identity.startswith("file:"):
        m = normalize(read_mesh(Path(shape)))
        return Target(name, m.vertices, m.faces, None, category=USER_CATEGORY)
    if identity == "cube":
        v, f = box_mesh([-0.3] * 3, [0.3] * 3)
        return Target("cube", v, f, None, category="cube")
    cid = identity.split(":")[1]
    m = generate(cid, seed)
    return Target(name, m.vertices, m.faces, m.part_ids, base_color(cid), category=name)


def target_identity(shape: str) -> tuple[str, str]:
    """``(name, identity)`` of the target ``shape`` names, without loading it: ``name``
    as :func:`load_target` gives it (a file's stem, ``cube``, a category name,
    ``airplane_3``); ``identity`` what makes it that target, by content where it has a
    file: ``file:<SHA-256 of the file>``, ``data:<spec>`` (its data set's fingerprint is
    keyed separately), ``cube``, ``category:<class id>:<generator version>``.  Raises
    as :func:`load_target` for a missing file or an unknown name."""
    if _DATA_SPEC.match(shape):
        _, cid, index = shape.split("/")
        return data_target_name(cid, int(index)), f"data:{shape}"
    path = Path(shape)
    if path.suffix or "/" in shape or os.sep in shape or path.is_dir():
        # a path: read_mesh names a missing, empty or unusable file (MeshFileError)
        if not path.is_file():
            read_mesh(path)
        return path.stem, f"file:{content_sha256(path)}"
    if shape == "cube":
        return "cube", "cube"
    try:
        cid = class_id_of(shape)
    except (KeyError, ValueError):
        raise ConfigError(f"unknown shape {shape!r}: not a mesh file, 'cube', a category "
                          "name / class id or a data-set object <split>/<class_id>/<index>"
                          ) from None
    return category_name(cid), f"category:{cid}:{GENERATOR_VERSION}"


def target_labels(shapes: Sequence[str]) -> dict[str, str]:
    """A unique label for every target of one run (``shapes``: :func:`load_target`
    names): its name (:func:`target_identity`), or, where targets that differ share a
    name (``a/mesh.obj`` and ``b/mesh.obj``; ``cube`` and ``x/cube.obj``), the name plus
    ``-`` and 8 hex digits of the target's identity (a file's: of its content), for each
    of them.  The same target named twice (one file by two paths, a category by name
    and by id) raises :class:`~bench_softras.errors.ConfigError` naming both; a name
    repeated verbatim counts once."""
    found: dict[str, tuple[str, str]] = {}
    seen: dict[str, str] = {}
    for shape in dict.fromkeys(shapes):
        name, ident = target_identity(shape)
        if ident in seen:
            raise ConfigError(f"fitting targets {seen[ident]!r} and {shape!r} are the same "
                              "target (same content); give it once")
        seen[ident] = shape
        found[shape] = (name, ident)
    names = [n for n, _ in found.values()]
    return {shape: name if names.count(name) == 1 else
            f"{name}-{hashlib.sha256(ident.encode()).hexdigest()[:8]}"
            for shape, (name, ident) in found.items()}


def _template(radius: float, template=None) -> tuple[torch.Tensor, torch.Tensor]:
    tv, tf = template if template is not None else default_template()
    tv = torch.as_tensor(np.asarray(tv), dtype=torch.float32)
    tv = tv * (radius / tv.norm(dim=1).max())
    return tv, torch.as_tensor(np.asarray(tf), dtype=torch.int64)


@dataclass
class FitResult:
    """What :func:`fit_mesh` returns: ``curve`` (DataFrame with :data:`FIT_COLUMNS`, one
    row per recorded step: 0, every ``record_every`` and the last; ``color_mse`` NaN
    without colour fitting; ``wall_s`` counts optimization time only), the fitted
    ``vertices`` float32 ``[642, 3]`` (world units) and ``colors`` float32 ``[642, 3]``
    in [0, 1] (``None`` without colour fitting)."""

    curve: pd.DataFrame
    vertices: torch.Tensor
    colors: torch.Tensor | None


@dataclass
class _Images:
    """The target's renderings: ``sil`` ``[24, H, W]`` over the recorded views, ``pool``
    ``[P, H, W]`` over the training views (ids ``pool_ids``), ``vox`` its voxels, and
    with colour fitting ``rgb`` ``[24, 3, H, W]`` / ``pool_rgb`` ``[P, 3, H, W]``."""

    sil: torch.Tensor
    pool: torch.Tensor
    pool_ids: np.ndarray
    vox: np.ndarray
    rgb: torch.Tensor | None = None
    pool_rgb: torch.Tensor | None = None


def target_silhouettes(target: Target, image_size: int) -> torch.Tensor:
    """The stored silhouettes float32 ``[24, S, S]`` of a data-set target at
    ``image_size`` (area-resampled when the data's size differs, as reconstruction
    resamples its inputs)."""
    sil = torch.from_numpy(np.ascontiguousarray(target.silhouettes, dtype=np.float32))
    if sil.shape[-1] != image_size:
        sil = F.interpolate(sil[None], size=(image_size, image_size), mode="area")[0]
    return sil


def _stored_images(target: Target, cfg: FitConfig) -> _Images:
    """A data-set target's images: its 24 stored silhouettes (the pool is a subset of
    them) and stored voxels; colour fitting and views from below need a mesh."""
    if cfg.num_views > NUM_VIEWS or cfg.color_weight > 0:
        raise ValueError(f"target {target.name!r} is a data-set object (24 stored views, no "
                         f"mesh): num_views must be <= {NUM_VIEWS} and color_weight 0, got "
                         f"{cfg.num_views} and {cfg.color_weight}")
    sil = target_silhouettes(target, cfg.image_size)
    pool = fitting_views(cfg.num_views)
    return _Images(sil, sil[torch.from_numpy(pool)], pool, np.asarray(target.voxels, bool))


def _target_images(target: Target, cfg: FitConfig, ref) -> _Images:
    """Render ``target`` once over the 24 recorded views and the training pool together
    (``ref``: the exact renderer), voxelize it, and shade it when fitting colours; a
    data-set target brings its own (:func:`_stored_images`)."""
    if target.vertices is None:
        return _stored_images(target, cfg)
    tv = torch.as_tensor(np.asarray(target.vertices), dtype=torch.float32)
    tf = torch.as_tensor(np.asarray(target.faces), dtype=torch.int64)
    pool = fitting_views(cfg.num_views)  # the views the fit may train on (ids 0..47)
    target_ids = np.union1d(np.arange(NUM_VIEWS), pool)  # sorted: 0..23 come first
    target_views = view_camera(target_ids)
    in_pool = torch.from_numpy(np.searchsorted(target_ids, pool))
    with torch.no_grad():
        every = ref.render(tv.expand(target_ids.size, -1, -1), tf, target_views).float()
    vox = metrics.voxelize(tv.numpy(), tf.numpy(),
                           parts="components" if target.parts is None else target.parts)
    images = _Images(every[:NUM_VIEWS], every[in_pool], pool, vox)
    if cfg.color_weight > 0:
        shaded = lambert_images(tv.double(), tf, target_views, tuple(target.color),
                                cfg.image_size)[0].float()
        images.rgb, images.pool_rgb = shaded[:NUM_VIEWS], shaded[in_pool]
    return images


class _Deformation:
    """The optimized variables: per-vertex displacements of the template (in the
    sigmoid space of :mod:`.model` plus a centroid, or in world units, per
    ``cfg.parametrization``) and, with colour fitting, per-vertex colour logits."""

    def __init__(self, cfg: FitConfig, template) -> None:
        self.base, self.faces = _template(cfg.template_radius, template)
        self.disp = torch.zeros_like(self.base, requires_grad=True)
        self.params = [self.disp]
        self.sigmoid = cfg.parametrization == "sigmoid"
        if self.sigmoid:
            self.base_logit, self.sign = sigmoid_parametrization(2 * self.base)
            self.centroid = torch.zeros(1, 3, requires_grad=True)
            self.params.append(self.centroid)
        self.color_logit = torch.zeros_like(self.base, requires_grad=True)  # mid grey
        if cfg.color_weight > 0:
            self.params.append(self.color_logit)

    def vertices(self) -> torch.Tensor:
        """Current vertices float32 ``[642, 3]`` (world units)."""
        if self.sigmoid:
            return squash_deform(self.base_logit, self.sign, self.disp[None], self.centroid)[0]
        return self.base + self.disp

    def colors(self) -> torch.Tensor:
        """Current vertex colours float32 ``[642, 3]`` in [0, 1]."""
        return torch.sigmoid(self.color_logit)


def _step_loss(rend, deform: _Deformation, images: _Images, pick: np.ndarray, topo,
               cfg: FitConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, vertices)`` of one step on the training views ``pool[pick]``: 1 - IoU
    (Eq. 3) plus the regularizers, plus the weighted colour l2 when fitting colours."""
    cams = view_camera(images.pool_ids[pick])
    verts = deform.vertices()
    sil = rend.render(verts.expand(pick.size, -1, -1), deform.faces, cams).float()
    reg, _ = regularizers(verts[None], topo, cfg.lambda_laplacian, cfg.lambda_flatten,
                          cfg.use_laplacian, cfg.use_flatten)
    chosen = torch.from_numpy(pick)
    loss = iou_loss(sil, images.pool[chosen]) + reg
    if cfg.color_weight > 0:
        rgb = render_vertex_colors(verts, deform.faces, deform.colors(), cams, cfg.image_size)
        loss = loss + cfg.color_weight * torch.mean((rgb - images.pool_rgb[chosen]) ** 2)
    return loss, verts


def _record(ref, deform: _Deformation, images: _Images, cfg: FitConfig) -> dict:
    """Voxel IoU, mean silhouette IoU over the 24 views and (with colour fitting) the
    colour MSE over the pixels covered by the target or the fit, of the current mesh."""
    with torch.no_grad():
        v_now = deform.vertices()
        sil_all = ref.render(v_now.expand(NUM_VIEWS, -1, -1), deform.faces, Camera.benchmark())
        color_mse = float("nan")
        if cfg.color_weight > 0:
            rgb_all = render_vertex_colors(v_now, deform.faces, deform.colors(),
                                           Camera.benchmark(), cfg.image_size)
            seen = (sil_all.float() > 0.5) | (images.sil > 0.5)  # [24, H, W]
            color_mse = float(((rgb_all - images.rgb) ** 2).mean(dim=1)[seen].mean())
    vox = metrics.voxelize_prediction(v_now.numpy(), deform.faces.numpy())
    return {"voxel_iou": float(metrics.voxel_iou(vox, images.vox)),
            "silhouette_iou": float(np.mean(np.asarray(
                metrics.silhouette_iou(sil_all.float(), images.sil, threshold=0.5)))),
            "color_mse": color_mse}


def fit_mesh(target: Target, renderer, *, config: FitConfig | None = None,
             target_renderer: str = "hard", template=None,
             progress: bool = False, label: str = "") -> FitResult:
    """Fit the template sphere to the 24 benchmark silhouettes of ``target``.

    ``target``: a :class:`Target` (:func:`load_target`; world units, inside
    ``[-0.5, 0.5]^3``; its ``parts`` voxelize it, its ``color`` shades it for colour
    fitting); ``renderer``: a registered name or instance; ``config``:
    :class:`FitConfig` (default the ``cpu`` preset's: steps, seed, views, loss weights,
    parametrization); ``target_renderer``: renderer of the target and of the recorded
    silhouette IoU (``hard``); ``template``: ``(vertices, faces)`` of the sphere
    (default the benchmark's); ``label``: the progress bar's name (default ``fit <target>
    <renderer>``).  Each step renders ``min(views_per_step, num_views)``
    views drawn from the ``config.num_views`` training views
    (:func:`bench_softras.experiments.multiview.fitting_views`); the recorded IoUs always
    cover all 24 benchmark views.  Returns a :class:`FitResult`.
    """
    cfg = config or CPU.fit
    ref = make_renderer(target_renderer, cfg.image_size, cfg.sigma)
    rend = make_renderer(renderer, cfg.image_size, cfg.sigma)
    images = _target_images(target, cfg, ref)
    deform = _Deformation(cfg, template)
    topo = mesh_topology(deform.faces, deform.base.shape[0])
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.Adam(deform.params, lr=cfg.lr, betas=cfg.betas)
    name, rows, wall = renderer_name(renderer), [], 0.0
    per_step = min(cfg.views_per_step, images.pool_ids.size)
    bar = tqdm(range(cfg.steps + 1), desc=label or f"fit {target.name} {name}",
               disable=not progress,
               dynamic_ncols=True)
    for step in bar:
        t0 = time.perf_counter()
        pick = (np.arange(per_step) if per_step == images.pool_ids.size else
                np.sort(rng.choice(images.pool_ids.size, per_step, replace=False)))
        loss, _ = _step_loss(rend, deform, images, pick, topo, cfg)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"fit_mesh: non-finite loss at step {step}")
        if step < cfg.steps and loss.requires_grad:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        wall += time.perf_counter() - t0
        if step % cfg.record_every == 0 or step == cfg.steps:
            rows.append({"renderer": name, "shape": target.name,
                         "category": target.category or target.name, "step": step,
                         "loss": float(loss.detach()), **_record(ref, deform, images, cfg),
                         "seed": cfg.seed, "wall_s": round(wall, 4)})
            bar.set_postfix(loss=f"{rows[-1]['loss']:.4f}",
                            sil_iou=f"{rows[-1]['silhouette_iou']:.3f}",
                            vox_iou=f"{rows[-1]['voxel_iou']:.3f}")
    with torch.no_grad():
        return FitResult(pd.DataFrame(rows, columns=FIT_COLUMNS), deform.vertices(),
                         deform.colors() if cfg.color_weight > 0 else None)


def fit_targets(targets: Sequence[Target], configs: dict[str, FitConfig], out_dir: str | Path,
                preset_name: str, *, progress: bool = True) -> pd.DataFrame:
    """Fit every target with every renderer (``configs``: renderer name -> its
    :class:`FitConfig`); saves the fitted meshes to ``out_dir/meshes/<shape>_<renderer>
    .obj`` (with colour fitting also ``.ply`` with the vertex colours) and returns the
    curves (:data:`FIT_COLUMNS` plus ``preset``)."""
    (Path(out_dir) / "meshes").mkdir(parents=True, exist_ok=True)
    return pd.concat([_fit_and_save(target, r, cfg, preset_name, Path(out_dir), progress)
                      for target in targets for r, cfg in configs.items()],
                     ignore_index=True)


def run_fitting(shapes: Sequence[str] | None = None, renderers: Sequence[str] | None = None,
                preset: Preset = CPU, out_dir: str | Path = "results/fitting", *,
                config: FitConfig | None = None, data_dir: str | Path | None = None,
                progress: bool = True) -> pd.DataFrame:
    """Fit every shape (:func:`load_target` names; data-set objects need ``data_dir``)
    with every renderer at one configuration; writes ``fitting.csv`` / ``.parquet`` and
    the fitted meshes (:func:`fit_targets`) to ``out_dir``.  The benchmark over a data
    set's objects with per-renderer tuning is
    :func:`bench_softras.experiments.fit_bench.run_fit_benchmark`.

    ``shapes`` / ``renderers`` default to the preset's (its ablation target when it names
    no fitting shapes); ``preset``: a :class:`~bench_softras.settings.Preset` (resolved by
    the caller, e.g. ``--preset`` / ``--set``); ``config`` replaces its :class:`FitConfig`.
    """
    p = require_preset(preset, "run_fitting")
    cfg = config or p.fit
    shapes = list(shapes or p.fit_shapes or (p.ablations.shape,))
    labels = target_labels(shapes)
    targets = [dataclasses.replace(load_target(s, cfg.seed, data_dir), name=labels[s])
               for s in labels]
    result = fit_targets(targets, dict.fromkeys(renderers or p.renderers, cfg), out_dir,
                         p.name, progress=progress)
    write_table(result, Path(out_dir) / schema.csv_name(schema.FITTING))
    write_table(result, Path(out_dir) / schema.parquet_name(schema.FITTING))
    return result


def fit_unit(shape: str, renderer, cfg: FitConfig, preset: str, data_key: str = "",
             label: str = "") -> Unit:
    """The unit fitting ``shape`` with ``renderer``: directory
    ``units/<label>__<renderer>`` (``label``: the target's unique label in its run,
    :func:`target_labels`; default its name) and the key of its settings and of the
    target by content (:func:`target_identity`: a mesh file edited in place gets
    another key, the same file at another path the same one; ``data_key``: the
    fingerprint of the data set a data target comes from)."""
    name = renderer_name(renderer)
    base, identity = target_identity(shape)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", label or base)
    return Unit(f"{shape} {name}", f"units/{slug}__{name}",
                config_hash({"target": identity, "label": label or base, "renderer": name,
                             "fit": asdict(cfg), "preset": preset, "data": data_key}))


def fit_one(target: Target, renderer, cfg: FitConfig, preset: str, out: Path,
            progress: bool) -> dict[str, pd.DataFrame]:
    """One fitting unit (:func:`bench_softras.sweep.run_sweep` records it): fit ``target``
    with ``renderer``, save the fitted mesh(es) under ``out/meshes``; returns its table,
    ``{fitting: the curve}``."""
    return {schema.FITTING: _fit_and_save(target, renderer, cfg, preset, out, progress)}


def _fit_and_save(target: Target, renderer, cfg: FitConfig, preset: str, out: Path,
                  progress: bool) -> pd.DataFrame:
    """Fit ``target`` with ``renderer``, save the fitted mesh(es) under ``out/meshes``
    and return the curve with a ``preset`` column."""
    fit = fit_mesh(target, renderer, config=cfg, progress=progress)
    _save_fit_meshes(out, target, renderer, fit)
    return fit.curve.assign(preset=preset)


def _save_fit_meshes(out: Path, target: Target, renderer, fit: FitResult) -> None:
    """``out/meshes/<target>_<renderer>.obj`` (and ``.ply`` with the vertex colours of a
    colour fit)."""
    stem = out / "meshes" / f"{target.name}_{renderer_name(renderer)}"
    _save_mesh(stem.with_suffix(".obj"), fit.vertices, default_template()[1])
    if fit.colors is not None:
        _save_mesh(stem.with_suffix(".ply"), fit.vertices, default_template()[1], fit.colors)


ABLATION_COLUMNS = ["variant", "shape", "renderer", "sigma", "use_laplacian", "use_flatten",
                    "num_views", "color_weight", "voxel_iou", "silhouette_iou", "color_mse",
                    "color_mse_start", "steps", "wall_s"]
#: Views of the colour example saved by :func:`run_ablations` (``color_views.npz``).
COLOR_EXAMPLE_VIEWS = (0, 6, 12, 18)


def ablation_variants(config: FitConfig, sigmas: Sequence[float], few_views: int,
                      color_weight: float = 0.0,
                      more_views: int = 0) -> list[tuple[str, FitConfig]]:
    """``(variant, FitConfig)`` of every ablation: :func:`variants_of` for the
    :class:`~bench_softras.settings.AblationConfig` of these fields (``renderer``
    aside), which checks them."""
    return variants_of(config, AblationConfig(sigmas=tuple(sigmas), few_views=few_views,
                                              color_weight=color_weight,
                                              more_views=more_views))


def variants_of(config: FitConfig, ablations: AblationConfig) -> list[tuple[str, FitConfig]]:
    """``(variant, FitConfig)`` of every ablation: ``baseline`` (``config``), ``sigma``
    (``config`` with each other value of ``ablations.sigmas``), ``no laplacian``,
    ``no flatten``, ``<few_views> views`` (``num_views=few_views``, evenly spaced,
    instead of 24), when ``more_views > 24`` ``<more_views> views`` (the 24 plus views
    from below, :func:`bench_softras.experiments.multiview.fitting_views`) and, when
    ``color_weight > 0``, ``color`` (vertex colours fitted too, with that weight on the
    l2 image loss)."""
    ab = ablations
    out = [("baseline", config)]
    out += [("sigma", with_overrides(config, sigma=float(s))) for s in ab.sigmas
            if float(s) != config.sigma]
    out += [("no laplacian", with_overrides(config, use_laplacian=False)),
            ("no flatten", with_overrides(config, use_flatten=False)),
            (f"{ab.few_views} views", with_overrides(config, num_views=ab.few_views))]
    if ab.more_views:
        out.append((f"{ab.more_views} views", with_overrides(config, num_views=ab.more_views)))
    if ab.color_weight > 0:
        out.append(("color", with_overrides(config, color_weight=float(ab.color_weight))))
    return out


def run_ablations(ablations: AblationConfig, config: FitConfig,
                  out_dir: str | Path = "results/ablations", *,
                  progress: bool = True) -> pd.DataFrame:
    """The paper's ablations as mesh fits of one target ``ablations.shape`` with
    ``ablations.renderer``: every :func:`variants_of` variant of ``config`` (the baseline
    :class:`FitConfig`) for ``ablations`` (a
    :class:`~bench_softras.settings.AblationConfig`; change its fields with
    :func:`~bench_softras.settings.with_overrides`).
    Only the first and last steps are scored.  Writes ``ablations.csv`` / ``.parquet``
    (:data:`ABLATION_COLUMNS`, one row per variant: final voxel and silhouette IoU over
    all 24 views, the colour MSE at the start (mid-grey vertices) and end of a colour
    fit, optimisation seconds) to ``out_dir`` and returns the table.  The colour variant
    also writes ``color_views.npz``: ``views`` int64 ``[K]``
    (:data:`COLOR_EXAMPLE_VIEWS`), ``target`` and ``fitted`` float32 ``[K, 3, H, W]``
    images in [0, 1] (the target's shaded renderings, the fit's colour pass)."""
    cfg, ab = config, ablations
    target = load_target(ab.shape, cfg.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for variant, vcfg in variants_of(cfg, ab):
        vcfg = with_overrides(vcfg, record_every=max(1, vcfg.steps))
        fit = fit_mesh(target, ab.renderer, config=vcfg, progress=progress)
        df, verts, colors = fit.curve, fit.vertices, fit.colors
        last = df.iloc[-1]
        rows.append({"variant": variant, "shape": target.name,
                     "renderer": renderer_name(ab.renderer), "sigma": vcfg.sigma,
                     "use_laplacian": vcfg.use_laplacian, "use_flatten": vcfg.use_flatten,
                     "num_views": vcfg.num_views, "color_weight": vcfg.color_weight,
                     "voxel_iou": float(last["voxel_iou"]),
                     "silhouette_iou": float(last["silhouette_iou"]),
                     "color_mse": float(last["color_mse"]),
                     "color_mse_start": float(df.iloc[0]["color_mse"]),
                     "steps": int(last["step"]), "wall_s": float(last["wall_s"])})
        if colors is not None:
            _save_color_views(out / schema.COLOR_VIEWS_NPZ, target, verts, colors, vcfg.image_size)
    result = pd.DataFrame(rows, columns=ABLATION_COLUMNS)
    write_table(result, out / schema.csv_name(schema.ABLATIONS))
    write_table(result, out / schema.parquet_name(schema.ABLATIONS))
    return result


def _save_color_views(path: Path, target: Target, vertices: torch.Tensor, colors: torch.Tensor,
                      image_size: int) -> None:
    cams = Camera.benchmark(list(COLOR_EXAMPLE_VIEWS))
    tgt, _ = lambert_images(torch.as_tensor(target.vertices, dtype=torch.float64),
                            torch.as_tensor(target.faces, dtype=torch.int64), cams,
                            target.color, image_size)
    with torch.no_grad():
        fitted = render_vertex_colors(vertices, default_template()[1], colors, cams, image_size)
    write_npz(path, views=np.asarray(COLOR_EXAMPLE_VIEWS, dtype=np.int64),
                        target=tgt.float().numpy(), fitted=fitted.float().numpy())


def _save_mesh(path: Path, vertices: torch.Tensor, faces: torch.Tensor,
               colors: torch.Tensor | None = None) -> None:
    o3d = open3d()
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices.double().numpy()),
        o3d.utility.Vector3iVector(faces.numpy().astype(np.int32)))
    if colors is not None:
        mesh.vertex_colors = o3d.utility.Vector3dVector(colors.double().clamp(0, 1).numpy())
    with atomic_path(path, suffix=f".tmp{Path(path).suffix}") as tmp:
        if not o3d.io.write_triangle_mesh(str(tmp), mesh):
            raise OSError(f"{path}: open3d could not write the mesh")
