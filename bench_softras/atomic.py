"""Temp-and-rename writes: the one way every result file of the suite is written.

A reader (a resumed run, the report, a second job) sees either the previous complete
file or the new complete file, never a partial one: each writer fills a temporary file
in the destination's folder (same file system), flushes and fsyncs it, then
``os.replace``-s it over the destination, which POSIX makes atomic.  A crash leaves at
most a stray ``.<name>.<random>.tmp`` file, which nothing reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it replaces ``path``.

    Write the whole file to the yielded path (any library's own writer works, e.g.
    ``df.to_parquet(tmp)``).  On an exception the temporary file is removed and
    ``path`` keeps its old content.  ``suffix`` ends the temporary name (e.g.
    ``".tmp.obj"`` for writers that pick the format from the extension)."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # the writer may have closed it without fsync
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
