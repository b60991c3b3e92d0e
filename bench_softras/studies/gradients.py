"""Gradient-accuracy and forward-fidelity study (``softras-bench gradients``).

For every scene of :mod:`metrics.gradient_accuracy`, every renderer and (for renderers
with a sharpness parameter, :func:`renderers.describe`) every value of it, compares the
renderer's gradient of each silhouette loss
with the finite-difference gradient of the exact pixel coverage, and the rendered
silhouette with the exact coverage and the hard (pixel-centre) silhouette.

Tables (tidy, one row per renderer x scene x sigma [x loss]); ``sigma`` is the value of
the renderer's sharpness parameter (``sigma`` for ``softras``, ``dibr`` and
``pytorch3d_soft``: squared normalized screen units), NaN for renderers without one
(``n3mr``, ``hard``, ``antialias``, ``edgegrad``: run once):

* ``gradient_accuracy``: renderer, scene, space, method, sigma, loss, cosine, rel_l2,
  sign_agree, norm_ratio, n_signif, n_vertices, image_size, seed, cosine_mitsuba,
  rel_l2_mitsuba (the last two against the second reference, Mitsuba 3's
  projective-sampling gradient, :func:`metrics.gradient_accuracy.peer_reference_gradient`;
  NaN where ``mitsuba`` is not installed);
* ``forward_fidelity``: renderer, scene, sigma, mad_exact, mad_hard, sil_iou,
  sil_iou_hard, image_size, seed.

Both are written to ``out_dir`` as ``.csv`` and ``.parquet``.

Non-finite values: a renderer whose silhouette or gradient holds NaN/Inf stops the study
with one line naming it (exit status 2 on the command line; :func:`check_finite_output`)
and nothing is written: a non-finite value has no score, and a table silently missing a
renderer would mislead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

import renderers
from bench_softras import results_schema as schema
from bench_softras.atomic import write_table
from bench_softras.errors import UnknownNameError
from bench_softras.settings import GRADIENT_SIGMAS, GradientConfig
from metrics.fidelity import forward_fidelity
from metrics.gradient_accuracy import (
    PEER_REFERENCE,
    SCENES,
    compare_gradients,
    make_scene,
    peer_reference_gradient,
    reference_gradient,
    renderer_gradient,
    scene_losses,
)
from renderers import available as registered_renderers
from renderers import build as build_renderer
from renderers.base import unknown_message
from renderers.contract import RendererContractError

#: The study's default renderers: every registered one, as the main job's gradient stage
#: runs (a query over the registry, in display order: :func:`renderers.names`).
DEFAULT_RENDERERS = tuple(renderers.names())


def _takes_sigma(name: str) -> bool:
    """Whether renderer ``name`` has a sharpness parameter to sweep (a module-level
    helper: :func:`run_gradient_study`'s ``renderers`` argument shadows the package)."""
    return renderers.describe(name).sharpness is not None


def run_gradient_study(
    renderers: Sequence[str] = DEFAULT_RENDERERS,
    sigmas: Sequence[float] = GRADIENT_SIGMAS,
    scenes: Sequence[str] = SCENES,
    image_size: int = 32,
    seed: int = 0,
    out_dir: Path | str | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the study (module docstring) and return ``(grad_df, fidelity_df)``.

    ``renderers``: registered names (:func:`renderers.available`); ``sigmas``: values
    (squared normalized screen units) of each renderer's sharpness parameter (renderers
    without one run once); ``scenes``:
    names from :data:`metrics.gradient_accuracy.SCENES`; ``image_size``: pixels (square);
    ``seed``: scene/weight randomness; ``out_dir``: where to write
    ``gradient_accuracy.{csv,parquet}`` and ``forward_fidelity.{csv,parquet}`` (nothing
    written if None); ``dtype``: vertex dtype given to the renderers.  ``sigmas``,
    ``scenes`` and ``image_size`` are checked as a
    :class:`~bench_softras.settings.GradientConfig` (:func:`run_gradient_config`).
    """
    config = GradientConfig(scenes=tuple(scenes), sigmas=tuple(sigmas), image_size=image_size)
    return run_gradient_config(config, renderers, seed, out_dir, dtype, progress)


def run_gradient_config(
    config: GradientConfig,
    renderers: Sequence[str] = DEFAULT_RENDERERS,
    seed: int = 0,
    out_dir: Path | str | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_gradient_study` for a (validated) ``config``."""
    names = list(renderers)
    if not names:
        raise ValueError("no renderers given")
    sigmas, scenes, image_size = list(config.sigmas), config.scenes, config.image_size
    known = registered_renderers()
    missing = [n for n in names if n not in known]
    if missing:  # unknown, or an optional peer not installed (saying how to install it)
        raise UnknownNameError("; ".join(unknown_message(n) for n in missing))
    sig_of = {n: (sigmas if _takes_sigma(n) else [float("nan")]) for n in names}
    total = len(scenes) * sum(len(v) for v in sig_of.values())
    grad_rows, fid_rows = [], []
    with tqdm(total=total, desc="gradient study", disable=not progress) as bar:
        for scene_name in scenes:
            scene = make_scene(scene_name, seed=seed)
            losses = scene_losses(scene, image_size, seed=seed)
            ref = reference_gradient(scene, losses, image_size)
            peer_ref = peer_reference_gradient(scene, losses, image_size)
            exact = scene.coverage(image_size)
            hard = scene.hard(image_size)
            cmp = scene.compare
            for name in names:
                for sigma in sig_of[name]:
                    bar.set_postfix_str(f"{scene_name} {name} sigma={sigma:g}")
                    r = build_renderer(
                        name, image_size=image_size,
                        sharpness=None if np.isnan(sigma) else sigma)
                    sil, grads = renderer_gradient(r, scene, losses, dtype=dtype)
                    check_finite_output(name, scene_name, sigma, grads, losses)
                    common = {"renderer": name, "scene": scene_name, "sigma": sigma}
                    for k, loss in enumerate(losses):
                        m = compare_gradients(grads[k][cmp], ref[k][cmp])
                        grad_rows.append({**common, "space": scene.space,
                                          "method": scene.method, "loss": loss.name, **m,
                                          "n_vertices": len(cmp), "image_size": image_size,
                                          "seed": seed,
                                          **_peer_columns(grads[k][cmp], peer_ref, k, cmp)})
                    fid_rows.append({**common, **forward_fidelity(sil, exact, hard),
                                     "image_size": image_size, "seed": seed})
                    bar.update(1)
    grad_df, fid_df = pd.DataFrame(grad_rows), pd.DataFrame(fid_rows)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for df, stem in ((grad_df, schema.GRADIENT_ACCURACY),
                         (fid_df, schema.FORWARD_FIDELITY)):
            write_table(df, out / schema.csv_name(stem))
            write_table(df, out / schema.parquet_name(stem))
    return grad_df, fid_df


def check_finite_output(name: str, scene: str, sigma: float, grads: np.ndarray,
                        losses: Sequence) -> None:
    """Stop the study when renderer ``name``'s gradients (float64 ``[n_losses, V, D]``)
    hold NaN/Inf: :class:`~renderers.contract.RendererContractError` (one line, exit
    status 2) naming the renderer, scene, sigma and loss.  A non-finite value has no
    score (a NaN gradient is not a zero gradient), and a table with a renderer's rows
    missing would mislead, so the study records nothing rather than a partial table.
    (Non-finite silhouettes are refused by the contract check of the renderer's first
    call, :mod:`renderers.contract`, and by the metrics.)"""
    for k, loss in enumerate(losses):
        bad = int((~np.isfinite(grads[k])).sum())
        if bad:
            at = "" if np.isnan(sigma) else f", sigma {sigma:g}"
            raise RendererContractError(
                f"renderer {name!r} gave a gradient with {bad} NaN/Inf values (scene "
                f"{scene}{at}, loss {loss.name}); the gradient study scores no non-finite "
                "value: fix the renderer, or leave it out of --renderers")


def _peer_columns(grad: np.ndarray, peer_ref: np.ndarray | None, k: int,
                  cmp: np.ndarray) -> dict[str, float]:
    """``cosine_<peer>``, ``rel_l2_<peer>`` of ``grad`` against the second reference's
    gradient of loss ``k`` (NaN when there is none)."""
    if peer_ref is None:
        m = {"cosine": float("nan"), "rel_l2": float("nan")}
    else:
        m = compare_gradients(grad, peer_ref[k][cmp])
    return {f"{key}_{PEER_REFERENCE}": m[key] for key in ("cosine", "rel_l2")}


def default_renderers() -> tuple[str, ...]:
    """Every registered renderer (installed peers included), in display order; the same
    list as the main job's gradient stage (:func:`renderers.names`)."""
    return tuple(renderers.names())
