"""The environment a run happened in: library versions, CPU/GPU, Taichi arch, threads,
git commit.  Collected by the main job when a stage ran and saved as
``environment.json`` in the run directory (:data:`bench_softras.runs.ENV_JSON`); the
report only reads that file, so a report rebuilt elsewhere still names the machine that
produced the numbers."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import psutil
import torch

from renderers.taichi_runtime import current_arch
from renderers.threads import settings as thread_settings

PACKAGES = ("torch", "taichi", "open3d", "numpy", "pandas", "matplotlib", "seaborn", "pyarrow",
            "softras-bench")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    return round(psutil.virtual_memory().total / 2**30, 1)


def git_commit(repo: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the source tree (``None`` outside a git checkout),
    with ``+dirty`` when tracked files are modified."""
    root = Path(repo) if repo else Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def collect_environment(device: str = "cpu") -> dict:
    """JSON-ready description of this process's environment.

    Keys: ``python``, ``platform``, ``packages`` (name -> version or None), ``cpu``
    (model, logical cores, cores usable by this process), ``memory_gb``, ``torch_threads``,
    ``threads`` (:func:`renderers.threads.settings`),
    ``cuda`` (available, device names, torch's CUDA version), ``taichi_arch`` (the arch
    the Taichi runtime was initialised with, ``None`` when no Taichi renderer ran),
    ``device`` (what the run asked for), ``git_commit``, ``argv``.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "cpu": {"model": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": usable},
        "memory_gb": _memory_gb(),
        "torch_threads": torch.get_num_threads(),
        "threads": thread_settings(),
        "cuda": {"available": cuda, "torch_cuda": torch.version.cuda,
                 "devices": [torch.cuda.get_device_name(i)
                             for i in range(torch.cuda.device_count())] if cuda else []},
        "taichi_arch": current_arch(),
        "device": device,
        "git_commit": git_commit(),
        "argv": list(sys.argv),
    }
