"""One Taichi runtime per process, initialised lazily on first use.

The Taichi arch follows the first tensor a Taichi renderer sees: ``cuda`` for a CUDA
tensor when Taichi can use CUDA, else ``cpu``.  ``SOFTRAS_BENCH_TAICHI_ARCH=cpu|cuda``
forces it.  Taichi cannot switch arch without invalidating every kernel, so tensors on
another device are copied to the runtime's device and the results copied back.
Kernels compute in float64 (``default_fp``) and store in the tensor's own dtype.
"""

from __future__ import annotations

import os
import threading

import torch

_lock = threading.Lock()
_arch: str | None = None


def ensure_init(device: torch.device | str = "cpu") -> str:
    """Initialise Taichi for ``device`` if not yet done; returns ``"cpu"`` or ``"cuda"``."""
    global _arch
    if _arch is not None:
        return _arch
    with _lock:
        if _arch is not None:
            return _arch
        import taichi as ti

        want = os.environ.get("SOFTRAS_BENCH_TAICHI_ARCH") or torch.device(device).type
        arch = "cpu"
        if want == "cuda":
            try:
                ti.init(arch=ti.cuda, default_fp=ti.f64, log_level=ti.ERROR)
                arch = "cuda" if ti.lang.impl.current_cfg().arch == ti.cuda else "cpu"
            except Exception:  # no usable CUDA runtime: fall back to the CPU
                arch = "cpu"
        if arch == "cpu":
            ti.init(arch=ti.cpu, default_fp=ti.f64, log_level=ti.ERROR)
        _arch = arch
        return arch


def current_arch() -> str | None:
    """The arch Taichi was initialised with, or ``None`` before first use."""
    return _arch


def kernel_device(device: torch.device | str) -> torch.device:
    """The torch device whose tensors Taichi kernels take directly."""
    arch = ensure_init(device)
    return torch.device("cuda") if arch == "cuda" else torch.device("cpu")
