"""The report of the main job: ``reports/<run-id>/report.md`` and a self-contained
``report.html`` (figures embedded), with the CSV/Parquet data behind every table and
figure in ``data/``.

* :func:`build_report` (:mod:`.build`): results directory -> report (reads only);
* :mod:`.results`: the layout of a results directory;
* :mod:`.figures`, :mod:`.document` (Markdown/HTML writer), :mod:`.examples` (example
  images computed by the main job), :mod:`.environment`, :mod:`.paper` (the paper's
  Table 1, package data).

The names below are imported lazily (the figure module selects matplotlib's Agg
backend, which only the report needs).
"""

from __future__ import annotations

import importlib

_LAZY = {"build_report": ".build", "voxel_iou_table": ".build",
         "collect_environment": ".environment", "paper_table1": ".paper"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
