"""Paths that come from the user or from a results file: the one place that checks them.

A results directory can come from someone else (a shared file system, a copied run, an
archive), and then everything in it is data, never an instruction:

* :func:`check_run_id`: a run id (``--run-id``, ``run_id`` in ``run.json``) names one
  folder under the results and reports roots, so it must be one safe path component
  (:data:`RUN_ID_PATTERN`: no ``/``, not ``.`` or ``..``, at most 100 characters);
* :func:`contained`: a path read from a results file (a unit's directory in a shard
  plan, a table in ``unit.json``, an output in ``stage.json``), or a fixed name under
  the run directory, is used only when it lies inside its root once symlinks are
  resolved; anything else is refused with :class:`UnsafePathError` naming the file;
* :func:`user_path`: a path option given with ``~`` (``--results-root
  ~/x``, also spelt ``--results-root=~/x`` where the shell leaves ``~`` alone) means the
  home directory, once, for every use of that path (the options' ``type=``
  functions are in :mod:`bench_softras.commands.options`).

This module imports neither torch nor the renderers: the report imports it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import UserError

#: A run id: one path component of letters, digits, ``.``, ``_`` and ``-``, starting
#: with a letter or digit (so never ``.``, ``..`` or hidden), 1 to 100 characters.
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"


class UnsafePathError(UserError, ValueError):
    """A run id or a path (from an option or a results file) that would lead outside
    the folder it belongs in; the message names it, its file, and what to do."""


def _short(text: str, limit: int = 60) -> str:
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def check_run_id(run_id: object, source: str | os.PathLike | None = None) -> str:
    """``run_id`` when it is one safe path component (:data:`RUN_ID_PATTERN`), else
    :class:`UnsafePathError` (a ``ValueError``) naming it and, for an id read from a
    file, that file (``source``)."""
    text = str(run_id)
    if isinstance(run_id, str) and re.fullmatch(RUN_ID_PATTERN, text):
        return text
    where = f"{os.fspath(source)}: " if source is not None else ""
    raise UnsafePathError(
        f"{where}run id {_short(text)} is refused: a run id names one folder under the "
        "results and reports roots, so it must be 1-100 letters, digits, '.', '_' or '-' "
        "starting with a letter or digit (e.g. cpu-2024-06); choose such a name")


def contained(root: str | os.PathLike, path: object,
              source: str | os.PathLike | None = None) -> Path:
    """``root / path`` with symlinks resolved, when it lies inside ``root`` (also
    resolved); else :class:`UnsafePathError` naming ``path`` and the file it was read
    from (``source``).  ``path`` is relative to ``root`` (an absolute one must itself be
    inside ``root``); a symlink that points out of ``root`` counts as outside."""
    where = f"{os.fspath(source)}: " if source is not None else ""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise UnsafePathError(f"{where}{path!r} is not a path; refused (a results file may "
                              "only name files inside its run directory)")
    base = Path(root).resolve()
    full = (Path(root) / path).resolve()
    if full != base and base not in full.parents:
        raise UnsafePathError(
            f"{where}path {_short(os.fspath(path))} leads outside {os.fspath(root)} (to "
            f"{full}); refused: a results file may only name files inside its run "
            "directory (remove the file, or the symlink, that points out)")
    return full


def user_path(text: str | os.PathLike) -> str:
    """``text`` with a leading ``~`` / ``~user`` expanded (``""`` stays ``""``)."""
    return os.path.expanduser(os.fspath(text)) if os.fspath(text) else ""
