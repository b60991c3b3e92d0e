"""Background load for the benchmarks: busy processes that share the cores with a
measurement, started and stopped by a context manager.

Two kinds (:data:`KINDS`), as issue 22 asks the loaded ratios to be measured beside both:

* ``"torch"``: another ML job. Each process runs float32 matrix products (``[N, N] @
  [N, N]``, :data:`MATMUL_SIZE`) at torch's default thread count, one thread per core
  this machine gives the bench (:func:`renderers.threads.available_cores`, affinity and
  cgroup quota), with OpenMP's default (spinning) wait: the settings that the bench's
  own process sets (``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY``, ``KMP_BLOCKTIME``,
  ``GOMP_SPINCOUNT``, ``$SOFTRAS_BENCH_THREADS``) are removed from its environment.
* ``"python"``: a pure-Python ``while True: pass`` loop, one core each.

:func:`background_load` waits until every process says it is running (the torch ones
after their first product) before it yields, and kills them (``SIGKILL`` to each one's
own process group) when the block ends, also on an exception or ``KeyboardInterrupt``.
Should the bench itself die without cleaning up (``SIGKILL``), each process also stops
by itself when its parent is gone or after ``max_seconds``.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Loaded / idle time ratio aimed for beside either kind (issue 22, targets 0 and 4: at
#: most 3x slower).
LOAD_RATIO_TARGET = 3.0
#: The kinds of background process.
KINDS = ("torch", "python")
#: Side of the square float32 matrices the torch processes multiply.
MATMUL_SIZE = 1024
#: Default number of processes and their self-imposed time limit (seconds).
DEFAULT_PROCESSES = 2
DEFAULT_MAX_SECONDS = 1800.0
#: Seconds to wait for a process to say it is running (torch's import included).
READY_TIMEOUT = 120.0
#: Environment variables of the bench's own thread settings, removed from the torch
#: processes' environment so that they run at torch's defaults.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "OMP_WAIT_POLICY", "KMP_BLOCKTIME", "GOMP_SPINCOUNT",
                    "SOFTRAS_BENCH_THREADS")

# Each child stops when its parent is gone (re-parented) or after {limit} seconds; it
# checks both every 2**20 loop turns (a few ms) or after every product.
_GUARD = ("import os, sys, time\nparent = {parent}\nend = time.monotonic() + {limit}\n"
          "def alive():\n    return os.getppid() == parent and time.monotonic() < end\n")
_PYTHON = _GUARD + ("print('ready', flush=True)\nn = 0\nwhile True:\n    n += 1\n"
                    "    if n & 0xFFFFF == 0 and not alive():\n        break\n")
_TORCH = _GUARD + ("import torch\na = torch.rand({size}, {size})\nb = torch.rand({size}, "
                   "{size})\nc = a @ b\nprint('ready', torch.get_num_threads(), "
                   "flush=True)\nwhile alive():\n    c = a @ b\n")


def child_command(kind: str, max_seconds: float, parent: int | None = None) -> list[str]:
    """The command line of one background process of ``kind`` (:data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"background load kind must be one of {KINDS}, got {kind!r}")
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
    fmt = {"parent": os.getpid() if parent is None else parent,
           "limit": float(max_seconds), "size": MATMUL_SIZE}
    code = (_TORCH if kind == "torch" else _PYTHON).format(**fmt)
    return [sys.executable, "-c", code]


def child_environment(kind: str) -> dict[str, str]:
    """The environment of a background process: the bench's, and for ``"torch"``
    without :data:`THREAD_VARIABLES` but ``OMP_NUM_THREADS`` = the available cores."""
    env = dict(os.environ)
    if kind == "torch":
        from renderers.threads import available_cores

        for key in THREAD_VARIABLES:
            env.pop(key, None)
        env["OMP_NUM_THREADS"] = str(available_cores())
    return env


def _await_ready(procs: list[subprocess.Popen], timeout: float) -> None:
    """Read each process's ``ready`` line; ``RuntimeError`` if one exits or is silent."""
    deadline = time.monotonic() + timeout
    for p in procs:
        line = ""
        while not line.startswith("ready"):
            left = deadline - time.monotonic()
            ready = select.select([p.stdout], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                raise RuntimeError(f"a background process did not start within "
                                   f"{timeout:g} s")
            line = p.stdout.readline()
            if not line:  # end of file: it exited
                raise RuntimeError(f"a background process exited before it started "
                                   f"(exit status {p.wait()})")


def stop(procs: list[subprocess.Popen]) -> None:
    """Kill every process (and its process group) and reap it."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                p.kill()
    for p in procs:
        try:
            p.wait(timeout=30)
        finally:
            if p.stdout is not None:
                p.stdout.close()


@contextmanager
def background_load(kind: str | None, n: int = DEFAULT_PROCESSES,
                    max_seconds: float = DEFAULT_MAX_SECONDS,
                    ready_timeout: float = READY_TIMEOUT) -> Iterator[list[subprocess.Popen]]:
    """``n`` busy background processes of ``kind`` (:data:`KINDS`; ``None`` or
    ``"idle"``: none) running for the duration of the block; yields their ``Popen``
    objects once all are running.  They are killed when the block ends, however it ends."""
    if kind in (None, "idle"):
        yield []
        return
    if n < 0:
        raise ValueError(f"need n >= 0 background processes, got {n}")
    cmd, env = child_command(kind, max_seconds), child_environment(kind)
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, text=True,
                                          start_new_session=True))
        _await_ready(procs, ready_timeout)
        yield procs
    finally:
        stop(procs)
