"""How a report names paths: relative to its run's roots, never as an absolute path of
the machine that built it (a report is read, and rebuilt, elsewhere).

An absolute path under one of the run's roots is shown as ``<label>/<relative path>``:

* ``<results-root>``: the folder holding the run directory (the job's
  ``--results-root``), so the run itself is ``<results-root>/<run-id>``;
* ``<reports-root>``: the job's ``--reports-root``;
* ``<data-cache>``: the cache root of the built-in synthetic data set
  (``$SOFTRAS_BENCH_DATA``, default ``~/.cache/softras-bench``);
* ``<data-dir>``: a directory of benchmark files the job was given (``--data-dir``).

Any other absolute path keeps only its last component (``.../<name>``).  Relative paths
(e.g. the default ``results``) are shown as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_ROOT = "<results-root>"
REPORTS_ROOT = "<reports-root>"
DATA_CACHE = "<data-cache>"
DATA_DIR = "<data-dir>"


def _forms(path: str | Path) -> set[str]:
    """The absolute spellings of ``path``: as given (normalised) and with symlinks
    resolved."""
    p = os.path.abspath(os.fspath(path))
    return {p, os.path.realpath(p)}


@dataclass(frozen=True)
class PathNamer:
    """Maps absolute paths to ``<label>/relative`` names; ``roots``: ``(label, absolute
    root)`` pairs, tried longest root first."""

    roots: tuple[tuple[str, str], ...]

    @classmethod
    def for_run(cls, results_dir: str | Path, run: dict | None) -> PathNamer:
        """The roots of the run in ``results_dir`` (its ``run.json`` content ``run``:
        the configured results/reports roots and the data set's directory)."""
        run = run or {}
        cfg = run.get("config") or {}
        data = run.get("data") or {}
        pairs: list[tuple[str, str]] = []

        def add(label: str, root: str | Path | None) -> None:
            if root and os.path.isabs(os.fspath(root)):
                pairs.extend((label, f) for f in _forms(root))

        add(RESULTS_ROOT, Path(results_dir).absolute().parent)
        add(RESULTS_ROOT, cfg.get("results_root"))
        add(REPORTS_ROOT, cfg.get("reports_root"))
        if data.get("kind") == "synthetic" and data.get("dir"):
            add(DATA_CACHE, Path(data["dir"]).parent.parent)  # <cache>/synthetic/<key>
        elif data.get("dir"):
            add(DATA_DIR, data["dir"])
        add(DATA_DIR, cfg.get("data_dir"))
        pairs.sort(key=lambda lr: len(lr[1]), reverse=True)
        return cls(tuple(pairs))

    def name(self, path: str | Path) -> str:
        """How the report shows ``path`` (see the module docstring)."""
        text = os.fspath(path)
        if not text or not os.path.isabs(text):
            return text
        forms = _forms(text)
        for label, root in self.roots:
            for form in forms:
                if form == root:
                    return label
                if form.startswith(root.rstrip(os.sep) + os.sep):
                    return f"{label}/{Path(form).relative_to(root).as_posix()}"
        return f".../{Path(text).name}"

    def scrub(self, obj: Any) -> Any:
        """``obj`` (JSON-like: dicts, lists, scalars) with every string that is an
        absolute path replaced by :meth:`name`."""
        if isinstance(obj, dict):
            return {k: self.scrub(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.scrub(v) for v in obj]
        if isinstance(obj, str) and os.path.isabs(obj):
            return self.name(obj)
        return obj
