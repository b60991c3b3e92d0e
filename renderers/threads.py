"""Thread pools of torch, Taichi and OpenMP: the one place their sizes are decided.

Three pools run this project's CPU work:

* torch's intra-op pool (OpenMP, ``torch.set_num_threads``);
* Taichi's CPU thread pool (``ti.init(cpu_max_num_threads=...)``; torch's setting does
  not reach it, and it can only change by re-initialising Taichi,
  :func:`renderers.taichi_runtime.reinit`);
* the OpenMP runtime's waiting: by default an idle OpenMP thread spins for a long
  time (GNU OpenMP: 300,000 turns) before it sleeps, which on a machine shared with
  other busy processes steals the very cores the threads it waits for need.
  ``OMP_WAIT_POLICY=PASSIVE`` (GNU and LLVM OpenMP) and ``KMP_BLOCKTIME=0`` (Intel
  OpenMP) make it sleep, and ``GOMP_SPINCOUNT=1000`` (GNU OpenMP, torch's wheels; it
  takes precedence over the policy there) lets it spin 1,000 turns, a few microseconds,
  first.  Sleeping at once costs every parallel torch op a futex wake-up: measured
  2026-12-06 on 2 idle cores, ``y * 2`` on 246,528 floats took 89 us at 2 threads with
  an immediate sleep against 13 us with the short spin (33 us at 1 thread), and a
  128-element ``torch.cos`` 66 us against 2 us (docs/performance.md, "OpenMP: a short
  spin before sleeping").  The OpenMP runtime reads these variables when it loads, i.e.
  at ``import torch``: :func:`prefer_passive_wait` sets them (unless the user set them)
  and is called by ``import renderers`` and by the ``softras-bench`` command line
  before torch is imported.  Where torch was imported first, setting them is too late;
  :func:`settings` then reports ``passive_wait_effective = False``.

Thread count (:func:`default_threads`): ``$SOFTRAS_BENCH_THREADS`` when set (the
command line's ``--threads N`` sets it), else every core this process may actually use
(:func:`available_cores`: the CPU affinity mask and the cgroup v2 / v1 CPU quota, not the
machine's core count), with passive waiting.  A count is at most
:data:`MAX_THREADS_PER_CORE` times the available cores (:func:`max_threads`; more is
refused with one line naming the maximum).  Measured on two pinned cores against two
busy processes (README, "Threads, and steady under load"): a ``cpu``-preset training
step ran 2.8x slower loaded than idle this way, 5.1x with OpenMP's default waiting; one
thread was slower both idle and loaded.
:func:`configure` applies the count to torch and records it for Taichi's ``ti.init``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from pathlib import Path

#: Environment variable: thread count of torch and Taichi (a positive integer).
THREADS_ENV = "SOFTRAS_BENCH_THREADS"
#: The most threads a count may ask for, per available core (:func:`max_threads`): more
#: only oversubscribes the cores, and a huge count (``--threads 100000``) makes torch's
#: OpenMP pool try to start that many threads (it crashed the process).  A count above
#: it is refused with one line naming the maximum, before torch or Taichi is sized.
MAX_THREADS_PER_CORE = 4
#: OpenMP settings under which idle threads spin only briefly, then sleep (set only
#: when unset; module docstring).
PASSIVE_WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0",
                    "GOMP_SPINCOUNT": "1000"}

_lock = threading.Lock()
_configured: int | None = None
_source = "default"
_passive_before_torch: bool | None = None


def prefer_passive_wait() -> bool:
    """Set :data:`PASSIVE_WAIT_ENV` in ``os.environ`` where unset; returns whether it
    can still take effect (torch, hence its OpenMP runtime, not yet imported).  The
    first call's answer is kept for :func:`settings`."""
    global _passive_before_torch
    early = "torch" not in sys.modules
    for key, value in PASSIVE_WAIT_ENV.items():
        os.environ.setdefault(key, value)
    if _passive_before_torch is None:
        _passive_before_torch = early
    return early


# -- cores actually available ------------------------------------------------------------
def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_paths(proc_cgroup: Path) -> dict[str, str]:
    """``controller -> path`` from ``/proc/self/cgroup`` (``""`` is cgroup v2)."""
    out: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for ctrl in parts[1].split(","):
                out[ctrl] = parts[2]
    return out


def cgroup_cpu_limit(root: str | Path = "/sys/fs/cgroup",
                     proc_cgroup: str | Path = "/proc/self/cgroup") -> float | None:
    """CPUs' worth of time the cgroup quota allows (``quota / period``), or ``None``
    when there is no quota.  cgroup v2: ``cpu.max`` (``"max 100000"`` or ``"200000
    100000"``); v1: ``cpu/cpu.cfs_quota_us`` (``-1``: none) and ``cpu.cfs_period_us``.
    Looks in this process's own cgroup directory, then at the mount's root."""
    root = Path(root)
    paths = _cgroup_paths(Path(proc_cgroup))
    v2 = [root / paths.get("", "/").lstrip("/"), root]
    for d in v2:
        text = _read(d / "cpu.max")
        if text:
            quota, _, period = text.partition(" ")
            if quota == "max":
                return None
            return int(quota) / int(period or 100000)
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        base = root / mount
        for d in (base / paths.get("cpu", "/").lstrip("/"), base):
            quota, period = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            if quota is not None and period:
                q = int(quota)
                return None if q <= 0 else q / int(period)
    return None


def available_cores() -> int:
    """Cores this process may use: the affinity mask's size, capped by the cgroup CPU
    quota rounded up (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, max(1, math.ceil(limit)))
    return max(1, cores)


# -- the thread count ----------------------------------------------------------------------
def max_threads() -> int:
    """The largest thread count :func:`parse_threads` accepts:
    :data:`MAX_THREADS_PER_CORE` times :func:`available_cores`."""
    return MAX_THREADS_PER_CORE * available_cores()


def parse_threads(value: object, what: str = THREADS_ENV) -> int:
    """A thread count from ``value`` (int or decimal string) in ``1 ..``
    :func:`max_threads`; ``ValueError`` naming ``what`` and the allowed range
    otherwise (checked before any pool is sized)."""
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{what} must be a positive integer (threads), got {value!r}; "
                         f"unset it to use the available cores ({available_cores()})")
    if n > max_threads():
        raise ValueError(f"{what} {n} is too many threads: at most {max_threads()} "
                         f"({MAX_THREADS_PER_CORE} per available core, "
                         f"{available_cores()} cores); unset it to use the available cores")
    return n


def default_threads() -> int:
    """``$SOFTRAS_BENCH_THREADS`` when set, else :func:`available_cores`."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        return parse_threads(env)
    return available_cores()


def configure(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` (default :func:`default_threads`) and
    record it for Taichi (:func:`taichi_threads`); an explicit count is also written to
    ``$SOFTRAS_BENCH_THREADS`` so child processes inherit it.  If Taichi is already
    initialised with another count it is re-initialised (its kernels recompile on next
    use).  Returns the count."""
    global _configured, _source
    import torch  # here: prefer_passive_wait() must be able to run before torch loads

    n = parse_threads(threads, "threads") if threads is not None else default_threads()
    with _lock:
        if threads is not None:
            os.environ[THREADS_ENV] = str(n)
            _source = "option"
        elif os.environ.get(THREADS_ENV, "").strip():
            _source = "env"
        torch.set_num_threads(n)
        _configured = n
    from . import taichi_runtime  # here: it imports torch (and imports this module)

    if taichi_runtime.current_arch() is not None and taichi_runtime.current_threads() != n:
        taichi_runtime.reinit()
    return n


def taichi_threads() -> int:
    """The thread count Taichi's CPU pool is initialised with: the configured one, else
    :func:`default_threads`."""
    return _configured if _configured is not None else default_threads()


def ensure_configured() -> int:
    """:func:`configure` with the defaults unless already configured; returns the count."""
    return _configured if _configured is not None else configure()


def settings() -> dict:
    """JSON-ready record of the thread settings in force (for run configurations):
    ``threads``, ``source`` (``option``, ``env`` or ``default``), ``available_cores``,
    ``affinity``, ``cgroup_cpu_limit``, ``torch_threads``, ``taichi_threads`` (``None``
    before Taichi starts), the OpenMP variables and whether they could take effect."""
    import torch  # here: prefer_passive_wait() must be able to run before torch loads

    from . import taichi_runtime  # here: it imports torch (and imports this module)

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        affinity = None
    return {"threads": taichi_threads(), "source": _source if _configured else "default",
            "available_cores": available_cores(), "affinity": affinity,
            "cgroup_cpu_limit": cgroup_cpu_limit(), "torch_threads": torch.get_num_threads(),
            "taichi_threads": taichi_runtime.current_threads(),
            **{k: os.environ.get(k) for k in PASSIVE_WAIT_ENV},
            "passive_wait_effective": bool(_passive_before_torch)}
