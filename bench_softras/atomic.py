"""Temp-and-rename writes: the one way every result file of the suite is written.

A reader (a resumed run, the report, a second job) sees either the previous complete
file or the new complete file, never a partial one: each writer fills a temporary file
in the destination's folder (same file system), flushes and fsyncs it, then
``os.replace``-s it over the destination, which POSIX makes atomic.  A crash leaves at
most a stray ``.<name>.<random>.tmp`` file, which nothing reads.

Permissions follow the umask, as for any file a program creates: ``0666 & ~umask``
(``-rw-r--r--`` under the usual ``022``, group-writable under ``002``), not the
owner-only ``0600`` of :func:`tempfile.mkstemp`; folders are created with
``mkdir``'s usual ``0777 & ~umask``.

A write that fails in the file system (a full disk, a read-only or vanished folder, no
permission) raises :class:`WriteError`: one line naming the destination and the
system's reason (e.g. ``cannot write results/cpu/timing/timing.csv: no space left on
device (ENOSPC); free some space or write elsewhere``), which the command line prints
with exit status 2.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError


class WriteError(UserError, OSError):
    """A file that could not be written (``OSError(errno, strerror, filename)`` with
    ``filename`` the destination); ``str()`` is one line naming it, the system's reason
    and what to do."""

    def __str__(self) -> str:
        code = errno.errorcode.get(self.errno or -1)
        reason = (self.strerror or "write failed").lower() + (f" ({code})" if code else "")
        fix = ("free some space or write elsewhere" if self.errno in (errno.ENOSPC,
                                                                       errno.EDQUOT)
               else "choose a folder you can write (e.g. --results-root, --out-dir)")
        return f"cannot write {self.filename}: {reason}; {fix}"


def current_umask() -> int:
    """The process's umask (read without changing it where Linux shows it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):  # pragma: no cover - not Linux
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def _write_error(exc: OSError, dest: Path, tmp: Path | None) -> OSError:
    """``exc`` as a :class:`WriteError` naming ``dest`` when it is about writing it (no
    file named, or the temporary file, the destination or its folders); an error about
    another file (e.g. an input the writer reads) is returned unchanged."""
    named = exc.filename
    ours = {None, str(dest), *(str(p) for p in dest.parents)} | ({str(tmp)} if tmp else set())
    if isinstance(exc, WriteError) or (named is not None and str(named) not in ours):
        return exc
    text = exc.strerror or (str(exc).strip().splitlines() or ["write failed"])[0]
    return WriteError(exc.errno if exc.errno is not None else 0, text, str(dest))


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it replaces ``path``.

    Write the whole file to the yielded path (any library's own writer works, e.g.
    ``df.to_parquet(tmp)``).  On an exception the temporary file is removed and
    ``path`` keeps its old content; a file-system error writing it is raised as
    :class:`WriteError` naming ``path``.  The file gets ``0666 & ~umask``.  ``suffix``
    ends the temporary name (e.g. ``".tmp.obj"`` for writers that pick the format from
    the extension)."""
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix,
                                        dir=dest.parent)
        try:
            os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 -> what open() gives
        finally:
            os.close(fd)
    except OSError as exc:
        raise _write_error(exc, dest, None) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # the writer may have closed it without fsync
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(exc, dest, tmp) from exc
        raise


def write_with(path: str | os.PathLike, writer: Callable[[Path], Any]) -> Path:
    """Atomically write ``path`` by calling ``writer(tmp_path)``; returns ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    return write_with(path, lambda p: p.write_bytes(data))


def write_json(path: str | os.PathLike, obj: Any, **kwargs: Any) -> Path:
    """Atomically write ``obj`` as JSON (``indent=2``, ``default=str`` unless given)."""
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("default", str)
    return write_text(path, json.dumps(obj, **kwargs))


def write_table(df: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Atomically write a pandas DataFrame; the format follows the suffix
    (``.csv`` or ``.parquet``); ``kwargs`` go to the pandas writer (``index=False``
    unless given)."""
    kwargs.setdefault("index", False)
    suffix = Path(path).suffix
    if suffix == ".csv":
        return write_with(path, lambda p: df.to_csv(p, **kwargs))
    if suffix == ".parquet":
        return write_with(path, lambda p: df.to_parquet(p, **kwargs))
    raise ValueError(f"write_table writes .csv or .parquet, not {suffix!r} ({path})")


def write_npz(path: str | os.PathLike, *args: Any, **arrays: Any) -> Path:
    """Atomically write ``np.savez_compressed(path, *args, **arrays)``.

    (Passing the temporary path's name to numpy would append ``.npz`` to it, so the
    archive is written through an open file handle.)"""

    def writer(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez_compressed(fh, *args, **arrays)

    return write_with(path, writer)
