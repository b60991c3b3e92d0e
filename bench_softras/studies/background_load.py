"""Busy background processes, to measure how a job behaves on a shared machine.

:func:`busy_processes` starts ``n`` Python processes that each spin one core
(``while True``), and stops them when the ``with`` block ends.  Each process also stops
by itself after ``max_seconds`` (a bound for when the parent dies without cleaning up).
The benchmarks (``nox -s bench``) time every renderer idle and under two of them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Default number of busy processes and their self-imposed time limit (seconds).
DEFAULT_PROCESSES = 2
DEFAULT_MAX_SECONDS = 1800.0

_SPIN = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end: pass\n"


@contextmanager
def busy_processes(n: int = DEFAULT_PROCESSES,
                   max_seconds: float = DEFAULT_MAX_SECONDS) -> Iterator[list[subprocess.Popen]]:
    """Run ``n`` core-spinning processes for the duration of the block (each exits by
    itself after ``max_seconds``); yields their ``Popen`` objects."""
    if n < 0 or not max_seconds > 0:
        raise ValueError(f"need n >= 0 and max_seconds > 0, got {n}, {max_seconds}")
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen([sys.executable, "-c",
                                           _SPIN.format(limit=float(max_seconds))],
                                          stdin=subprocess.DEVNULL))
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(timeout=30)
