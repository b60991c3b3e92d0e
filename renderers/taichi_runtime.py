"""One Taichi runtime per process, initialised lazily on first use.

The Taichi arch follows the first tensor a Taichi renderer sees: ``cuda`` for a CUDA
tensor when Taichi can use CUDA, else ``cpu``.  ``SOFTRAS_BENCH_TAICHI_ARCH=cpu|cuda``
forces it.  Taichi cannot switch arch without invalidating every kernel, so tensors on
another device are copied to the runtime's device and the results copied back
(:func:`reinit` switches explicitly; every kernel then recompiles on its next call).
Kernels compute in float64 (``default_fp``) and store in the tensor's own dtype.

``ti.init`` arguments set here:

* CPU: ``cpu_max_num_threads`` from :func:`renderers.threads.taichi_threads` (torch's
  ``set_num_threads`` does not reach Taichi's pool);
* CUDA: ``device_memory_GB`` = :data:`CUDA_POOL_GB` and no ``device_memory_fraction``:
  Taichi preallocates only that pool for its own runtime (the renderers pass torch
  tensors as ``ti.types.ndarray`` arguments, which live in torch's allocator and are
  used in place, with no copy), so torch keeps the rest of the GPU.
  ``TI_DEVICE_MEMORY_GB`` overrides it (Taichi reads it).
"""

from __future__ import annotations

import os
import threading

import taichi as ti
import torch

from . import threads

#: GiB Taichi preallocates on CUDA for its runtime (Taichi's own default, made explicit;
#: never a fraction of the card, which would starve torch).
CUDA_POOL_GB = 1.0
ARCH_ENV = "SOFTRAS_BENCH_TAICHI_ARCH"

_lock = threading.RLock()
_arch: str | None = None
_threads: int | None = None


def _init(want: str) -> str:
    """``ti.init`` for ``want`` (``cpu`` / ``cuda``); returns the arch obtained."""
    n = threads.taichi_threads()
    common = {"default_fp": ti.f64, "log_level": ti.ERROR, "cpu_max_num_threads": n}
    arch = "cpu"
    if want == "cuda":
        try:
            ti.init(arch=ti.cuda, device_memory_GB=CUDA_POOL_GB, **common)
            arch = "cuda" if ti.lang.impl.current_cfg().arch == ti.cuda else "cpu"
        except Exception:  # no usable CUDA runtime: fall back to the CPU
            arch = "cpu"
    if arch == "cpu":
        ti.init(arch=ti.cpu, **common)
    global _arch, _threads
    _arch, _threads = arch, n
    return arch


def ensure_init(device: torch.device | str = "cpu") -> str:
    """Initialise Taichi for ``device`` if not yet done; returns ``"cpu"`` or ``"cuda"``."""
    if _arch is not None:
        return _arch
    with _lock:
        if _arch is not None:
            return _arch
        return _init(os.environ.get(ARCH_ENV) or torch.device(device).type)


def reinit(arch: str | None = None) -> str:
    """Re-initialise Taichi with ``arch`` (``cpu`` / ``cuda``; default: the current one,
    else what ``$SOFTRAS_BENCH_TAICHI_ARCH`` or the CPU says) and the current thread
    setting; returns the arch obtained (``cpu`` when CUDA is unusable).  Every kernel
    recompiles on its next call; do not call it while another thread runs a kernel."""
    if arch not in (None, "cpu", "cuda"):
        raise ValueError(f"arch must be 'cpu' or 'cuda', got {arch!r}")
    with _lock:
        return _init(arch or _arch or os.environ.get(ARCH_ENV) or "cpu")


def current_arch() -> str | None:
    """The arch Taichi was initialised with, or ``None`` before first use."""
    return _arch


def current_threads() -> int | None:
    """``cpu_max_num_threads`` Taichi was initialised with, or ``None`` before first use."""
    return _threads


def kernel_device(device: torch.device | str) -> torch.device:
    """The torch device whose tensors Taichi kernels take directly."""
    arch = ensure_init(device)
    return torch.device("cuda") if arch == "cuda" else torch.device("cpu")
