"""CUDA-vs-CPU agreement and CUDA timing of every registered renderer.

Run by ``scripts/gpu_check.sh`` on a machine with a GPU (``python -m
bench_softras.commands.device_check --out DIR``); on a machine without one it writes
the CPU timings alone and says that CUDA is absent.

* **Agreement** (``agreement.csv``): the template sphere (642 vertices, 1280 faces) seen
  by 4 benchmark cameras at 64x64; each renderer's silhouettes and the gradient of a
  fixed random weighting of them w.r.t. the world vertices, on CUDA (float32 and
  float64 inputs) against the CPU float64 result.  Taichi runs one arch per process
  (:mod:`renderers.taichi_runtime`), so the CPU reference is computed first in a child
  process with ``SOFTRAS_BENCH_TAICHI_ARCH=cpu`` (``--reference-only``) and saved.
  Columns: ``max_abs_sil`` (max per-pixel difference), ``grad_rel``
  (``|g_cuda - g_cpu| / |g_cpu|``, Frobenius norms; NaN when the renderer has no
  gradient).
* **Timing** (``timing.csv``): forward and forward+backward wall time (median of
  ``repeats`` calls after ``warmup``, CUDA synchronised) at the paper's setting
  (B = 64, 64x64, sigma 3e-5) and at 256x256 (B = 16), float32 inputs.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable

import pandas as pd
import torch

import renderers
from metrics.meshes import template_sphere
from renderers.soft_math import DEFAULT_SIGMA
from renderers.taichi_runtime import ensure_init

#: (setting name, batch, image size) of the timing table.
SETTINGS = (("paper", 64, 64), ("256px", 16, 256))
#: Sharpness of every renderer that has one (the paper's sigma).
SIGMA = DEFAULT_SIGMA
#: Renderers too slow for the 256x256 setting: those whose description says they
#: evaluate every pixel-face pair (cost class ``dense``, :func:`renderers.names`).
DENSE = tuple(renderers.names(cost_class="dense", absent=True))


def _make(name: str, image_size: int):
    return renderers.build(name, image_size=image_size, sharpness=SIGMA)


def _scene(batch: int, device: str, dtype: torch.dtype):
    v, f = template_sphere()
    verts = torch.as_tensor(v, dtype=dtype, device=device)[None].expand(batch, -1, -1)
    cam = renderers.Camera.benchmark(torch.arange(batch) % 24)
    return verts.contiguous(), torch.as_tensor(f, device=device), cam


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _forward_backward(r, verts, faces, cam, weight, backward: bool = True):
    v = verts.clone().requires_grad_(backward)
    s = r.render(v, faces, cam)
    if backward:
        (s * weight).sum().backward()
    return s.detach(), (v.grad if backward else None)


def _weight() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(4, 64, 64, generator=gen, dtype=torch.float64)


def reference(names: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """CPU float64 silhouettes and gradients of the agreement scene, per renderer (run
    where Taichi was initialised on the CPU)."""
    return {name: _forward_backward(_make(name, 64), *_scene(4, "cpu", torch.float64),
                                    _weight()) for name in names}


def agreement(refs: dict[str, tuple[torch.Tensor, torch.Tensor]],
              device: str = "cuda") -> pd.DataFrame:
    """Silhouettes and gradients on ``device`` (float32, float64) against ``refs``
    (from :func:`reference`)."""
    rows = []
    weight = _weight()
    for name, (ref_s, ref_g) in refs.items():
        r = _make(name, 64)
        for dtype in (torch.float32, torch.float64):
            s, g = _forward_backward(r, *_scene(4, device, dtype), weight.to(device, dtype))
            gnorm = float(ref_g.norm())
            rows.append({
                "renderer": name, "device": device, "dtype": str(dtype).removeprefix("torch."),
                "max_abs_sil": float((s.cpu().double() - ref_s).abs().max()),
                "grad_rel": (float((g.cpu().double() - ref_g).norm()) / gnorm
                             if gnorm > 0 else float("nan")),
            })
    return pd.DataFrame(rows)


def _median_ms(fn: Callable[[], object], device: str, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def timing(names: list[str], device: str, repeats: int = 10, warmup: int = 2) -> pd.DataFrame:
    """Forward and forward+backward ms per call of each renderer at :data:`SETTINGS`."""
    rows = []
    for setting, batch, size in SETTINGS:
        verts, faces, cam = _scene(batch, device, torch.float32)
        weight = torch.rand(batch, size, size, device=device)
        for name in names:
            if size > 64 and name in DENSE:
                continue
            r = _make(name, size)
            reps = 1 if name in DENSE else repeats
            row = {"renderer": name, "device": device, "setting": setting, "batch": batch,
                   "image_size": size, "faces": int(faces.shape[0])}
            for key, bwd in (("forward_ms", False), ("forward_backward_ms", True)):
                call = functools.partial(_forward_backward, r, verts, faces, cam, weight, bwd)
                row[key] = _median_ms(call, device, reps, 1 if name in DENSE else warmup)
            rows.append(row)
    return pd.DataFrame(rows)


def cuda_usable() -> bool:
    """Whether torch sees a CUDA device and Taichi initialised its CUDA backend."""
    if not torch.cuda.is_available():
        return False
    return ensure_init("cuda") == "cuda"
