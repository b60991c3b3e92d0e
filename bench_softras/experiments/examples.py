"""The main job's ``examples`` stage: example images and meshes for the report,
computed once here and saved as ``examples/examples.npz``
(:data:`bench_softras.runs.EXAMPLES_NPZ`), so the report only plots them and can be
rebuilt without torch models or renderers.

* Fitting: for up to three fitted shapes (one per category,
  :func:`bench_softras.experiments.fit_bench.example_specs`), the target's silhouettes
  (drawn by ``hard``, or a data-set object's stored ones) and those of each renderer's
  fitted mesh (``fitting/meshes/<shape>_<renderer>.obj``) in a few benchmark views,
  drawn by the exact ``hard`` renderer, plus the fitted vertices (for 3-D plots).
* Reconstruction: for the first test object of every category, the input image (one
  benchmark view), the ground-truth silhouette in that view and in a novel view, and
  each renderer's predicted mesh (first seed, latest checkpoint) drawn by ``hard`` in
  both views, plus the predicted vertices and faces.

:func:`compute_examples` takes what it draws from as arguments (the fitting stage's
folder and configuration, the reconstruction runs' checkpoints); the harness
(:mod:`bench_softras.stages.examples`) reads them from the run directory's records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from bench_softras.atomic import write_npz
from bench_softras.data import category_name, load_split, read_mesh
from bench_softras.runs import EXAMPLES_NPZ
from bench_softras.safe_paths import contained
from bench_softras.settings import ExamplesConfig
from renderers import Camera

from .fit_bench import example_specs
from .fitting import load_target, target_labels, target_silhouettes
from .renderer_choice import make_renderer
from .train import load_generator

#: Benchmark views shown for fitting (azimuths 0, -120, -240 degrees).
FIT_VIEWS = ExamplesConfig.fit_views
#: Input view and novel view shown for reconstruction (90 degrees apart).
RECON_VIEWS = ExamplesConfig.recon_views


def _silhouettes(vertices, faces, views: Sequence[int], image_size: int) -> np.ndarray:
    """Hard silhouettes float32 ``[len(views), S, S]`` of one mesh (world units)."""
    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.int64)
    with torch.no_grad():
        sil = make_renderer("hard", image_size).render(v.expand(len(views), -1, -1), f,
                                       Camera.benchmark(torch.as_tensor(list(views))))
    return sil.float().numpy()


def fitting_examples(fit_dir: str | Path, shapes: Sequence[str], renderer_names: Sequence[str],
                     seed: int = 0, image_size: int = ExamplesConfig.fit_image_size,
                     views: Sequence[int] = FIT_VIEWS,
                     data_dir: str | Path | None = None,
                     labels: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Arrays (keys prefixed ``fit_``) for the fitted meshes in ``fit_dir/meshes``
    (``labels``: each spec's unique label in the fitting run,
    :func:`bench_softras.experiments.fitting.target_labels`; default its name).

    ``shapes``: the target specs the fitting stage was given (names, class ids or mesh
    files, data-set objects of ``data_dir``,
    :func:`bench_softras.experiments.fitting.load_target`); ``seed``: the
    fitting config's seed.  Keys: ``fit_shapes`` str ``[S]``, ``fit_renderers`` str
    ``[R]``, ``fit_views`` int ``[K]``, ``fit_target`` float32 ``[S, K, H, W]``,
    ``fit_pred`` float32 ``[S, R, K, H, W]`` (NaN where a mesh is missing),
    ``fit_vertices`` float32 ``[S, R, V, 3]``, ``fit_faces`` int64 ``[F, 3]``.
    """
    names, targets, preds, verts, faces = [], [], [], [], None
    for spec in shapes:
        target = load_target(spec, seed, data_dir)
        target = dataclasses.replace(target, name=(labels or {}).get(spec, target.name))
        names.append(target.name)
        targets.append(_silhouettes(target.vertices, target.faces, views, image_size)
                       if target.vertices is not None else
                       target_silhouettes(target, image_size)[list(views)].numpy())
        row_p, row_v = [], []
        for r in renderer_names:
            path = contained(fit_dir, Path("meshes", f"{target.name}_{r}.obj"))
            if path.is_file():
                m = read_mesh(path)
                faces = m.faces if faces is None else faces
                row_p.append(_silhouettes(m.vertices, m.faces, views, image_size))
                row_v.append(np.asarray(m.vertices, dtype=np.float32))
            else:
                row_p.append(np.full((len(views), image_size, image_size), np.nan, np.float32))
                row_v.append(None)
        preds.append(row_p)
        verts.append(row_v)
    nv = next((v.shape[0] for row in verts for v in row if v is not None), 0)
    vert_arr = np.full((len(names), len(renderer_names), nv, 3), np.nan, np.float32)
    for i, row in enumerate(verts):
        for j, v in enumerate(row):
            if v is not None and v.shape[0] == nv:
                vert_arr[i, j] = v
    return {"fit_shapes": np.asarray(names, dtype=str),
            "fit_renderers": np.asarray(list(renderer_names), dtype=str),
            "fit_views": np.asarray(list(views), dtype=np.int64),
            "fit_target": np.stack(targets).astype(np.float32),
            "fit_pred": np.asarray(preds, dtype=np.float32),
            "fit_vertices": vert_arr,
            "fit_faces": np.zeros((0, 3), np.int64) if faces is None
            else np.asarray(faces, dtype=np.int64)}


def recon_examples(checkpoints: dict[str, str | Path], data_dir: str | Path, split: str = "test",
                   class_ids: Sequence[str] = (), views: Sequence[int] = RECON_VIEWS,
                   device: str = "cpu") -> dict[str, np.ndarray]:
    """Arrays (keys prefixed ``recon_``) for the first ``split`` object of each class.

    ``checkpoints``: renderer name -> checkpoint path (:func:`train.load_generator`);
    ``views``: ``(input view, novel view)``.  Keys: ``recon_classes`` str ``[C]``,
    ``recon_categories`` str ``[C]`` (their names),
    ``recon_renderers`` str ``[R]``, ``recon_views`` int ``[2]``, ``recon_input`` uint8
    ``[C, 4, S, S]`` (RGBA, input view), ``recon_gt`` float32 ``[C, 2, S, S]`` (alpha in
    both views), ``recon_pred`` float32 ``[R, C, 2, S, S]``, ``recon_vertices`` float32
    ``[R, C, V, 3]``, ``recon_faces`` int64 ``[F, 3]``.
    """
    data = load_split(data_dir, split, class_ids)
    classes = data.classes
    objs = np.asarray([data.indices_of(c)[0] for c in classes], dtype=np.int64)
    v_in, v_new = int(views[0]), int(views[1])
    size = data.image_size
    inputs = data.images[objs, v_in]
    gt = np.stack([data.images[objs, v_in, 3], data.images[objs, v_new, 3]], 1) / 255.0
    preds, all_verts, faces = [], [], np.zeros((0, 3), np.int64)
    for _name, ckpt in checkpoints.items():
        model, cfg = load_generator(ckpt, device=device)
        with torch.no_grad():
            img = data.images_at(objs, np.full(objs.size, v_in), cfg.image_size, device)
            verts = model(img).float().cpu()
        faces = model.faces.cpu().numpy()
        preds.append(np.stack([np.concatenate([
            _silhouettes(v, faces, [v_in], size), _silhouettes(v, faces, [v_new], size)])
            for v in verts]))
        all_verts.append(verts.numpy())
    nr = len(checkpoints)
    return {"recon_classes": np.asarray(classes, dtype=str),
            "recon_categories": np.asarray([category_name(c) for c in classes], dtype=str),
            "recon_renderers": np.asarray(list(checkpoints), dtype=str),
            "recon_views": np.asarray([v_in, v_new], dtype=np.int64),
            "recon_input": inputs.astype(np.uint8),
            "recon_gt": gt.astype(np.float32),
            "recon_pred": np.asarray(preds, dtype=np.float32).reshape(
                nr, len(classes), 2, size, size),
            "recon_vertices": np.asarray(all_verts, dtype=np.float32).reshape(
                nr, len(classes), -1, 3),
            "recon_faces": faces.astype(np.int64)}


def compute_examples(out_dir: str | Path, ex: ExamplesConfig | None = None, *,
                     fit: dict | None = None, recon: dict | None = None) -> list[Path]:
    """Compute the examples with the views and sizes of ``ex`` (default
    :class:`~bench_softras.settings.ExamplesConfig`) and write ``out_dir/examples.npz``;
    returns ``[that path]`` (the stage's outputs).

    ``fit`` (``None``: no fitting examples): ``dir`` (the fitting stage's folder, holding
    ``meshes/``) and its stage configuration ``config`` (``shapes``, ``renderers``,
    ``fit.seed``, ``data_dir``).  ``recon`` (``None``: none): ``checkpoints``
    (``{renderer: checkpoint path}``, read weights only) and the stage configuration's
    ``recon`` section (``data_dir``, ``eval_split``, ``class_ids``, ``device``)."""
    ex = ex or ExamplesConfig()
    arrays: dict[str, np.ndarray] = {}
    if fit:
        fc = fit["config"]
        arrays.update(fitting_examples(fit["dir"], example_specs(fc["shapes"]),
                                       fc["renderers"], seed=fc["fit"]["seed"],
                                       image_size=ex.fit_image_size, views=ex.fit_views,
                                       data_dir=fc.get("data_dir"),
                                       labels=target_labels(fc["shapes"])))
    if recon and recon["checkpoints"]:
        rc = recon["recon"]
        arrays.update(recon_examples(recon["checkpoints"], rc["data_dir"], rc["eval_split"],
                                     rc["class_ids"], views=ex.recon_views,
                                     device=rc["device"]))
    path = Path(out_dir) / EXAMPLES_NPZ
    write_npz(path, **arrays)
    return [path]
