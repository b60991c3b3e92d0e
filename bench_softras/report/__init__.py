"""The report of the main job: ``reports/<run-id>/report.md`` and a self-contained
``report.html`` (figures embedded), with the CSV/Parquet data behind every table and
figure in ``data/``.

* :func:`build_report` (:mod:`.build`): results directory -> report (reads only);
* :mod:`.results`: readers of a results directory (its layout: :mod:`bench_softras.runs`);
* :mod:`.paths`: paths named relative to the run's roots;
* :mod:`.figures`, :mod:`.document` (Markdown/HTML writer), :mod:`.evidence`,
  :mod:`.stats`, :mod:`.verdicts`, :mod:`.paper` (the paper's Table 1, package data).

The report reads saved results only: no module here imports
:mod:`bench_softras.experiments`, :mod:`bench_softras.studies` or :mod:`renderers`
(the examples and the environment are computed and saved by the main job:
:mod:`bench_softras.experiments.examples`, :mod:`bench_softras.environment`).

The names below are imported lazily (the figure module selects matplotlib's Agg
backend, which only the report needs).
"""

from __future__ import annotations

import importlib

_LAZY = {"build_report": ".build", "voxel_iou_table": ".build", "paper_table1": ".paper"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
