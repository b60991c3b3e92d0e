"""Fixtures of the report tests: ``synthetic_report``, a report built from the synthetic
results of :mod:`synthetic_results` (3 seeds, 3 categories x 5 objects; seconds, not a
smoke run)."""

from __future__ import annotations

import pytest
from synthetic_results import write_results


@pytest.fixture(scope="session")
def synthetic_report(tmp_path_factory):
    """``(results dir, report dir)`` of the synthetic results and their report."""
    from bench_softras.report.build import build_report

    root = tmp_path_factory.mktemp("synthetic")
    res = write_results(root / "results")
    paths = build_report(res, root / "report")
    return res, paths["markdown"].parent
