"""One job at a time per run directory.

A job takes an exclusive ``fcntl.flock`` on ``<run dir>/.lock`` for as long as it
runs and writes its holder record there (pid, host, start time, command line).  A
second job into the same directory fails at once with :class:`RunLockedError` naming
the holder, or (``wait=True``) waits until the holder is done.  The kernel drops a
``flock`` when its process dies (even by ``kill -9``), so a lock left by a killed job
never blocks: the stale record is simply overwritten by the next holder.  (``flock``
is advisory and local: it does not protect a run directory on NFS shared by two
machines.)

Shards of one sweep (:mod:`bench_softras.shards`) share the run directory: each takes
it with ``shared=True`` (a shared ``flock``, no holder record), so they run side by
side while an unsharded job, which takes it exclusively, waits or fails; each shard
then locks every unit's own directory exclusively.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench_softras.errors import UserError

log = logging.getLogger(__name__)

#: Name of the lock file inside a run directory.
LOCK_NAME = ".lock"


class RunLockedError(UserError, RuntimeError):
    """Another live job holds the run directory's lock; the message names it."""


def holder_record(command: Sequence[str] | None = None) -> dict:
    """What a holder writes into the lock file: pid, host, start time, command."""
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "command": " ".join(sys.argv if command is None else command)}


def read_holder(directory: str | Path) -> dict:
    """The holder record in ``directory``'s lock file ({} when absent or unreadable)."""
    try:
        rec = json.loads((Path(directory) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return rec if isinstance(rec, dict) else {}


def describe_holder(rec: dict) -> str:
    """``pid 123 on host, since 2024-01-01T10:00:00: softras-bench report ...``."""
    if not rec:
        return "sharded jobs (--shard), or a job that has not written its record yet"
    return (f"pid {rec.get('pid')} on {rec.get('host')}, since {rec.get('started')}: "
            f"{rec.get('command')}")


@contextmanager
def run_lock(directory: str | Path, *, wait: bool = False,
             command: Sequence[str] | None = None, shared: bool = False) -> Iterator[Path]:
    """Hold ``directory``'s lock for the ``with`` block (the directory is created).

    Raises :class:`RunLockedError` at once when another process holds it, unless
    ``wait`` (then blocks until it is free, after logging who is waited for).
    ``command``: recorded command line (default ``sys.argv``).  ``shared``: a shared
    lock (sharded jobs), held beside other shared holders and refused while an
    exclusive one holds it; it writes no holder record.  Yields the lock path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    held = False
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(read_holder(d))
            if not wait:
                raise RunLockedError(
                    f"{d} is in use by another job ({holder}); wait for it to finish, "
                    "add --wait to start when it is done, or pick another --run-id"
                ) from None
            log.warning("%s is in use by another job (%s); waiting for it to finish", d, holder)
            fcntl.flock(fd, mode)
        held = not shared
        if held:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder_record(command)) + "\n").encode(), 0)
        yield path
    finally:
        if held:
            os.ftruncate(fd, 0)  # no stale record once released
        os.close(fd)  # closing the only descriptor releases the flock
