"""Fixtures of the report and command-line tests: ``no_work`` (every expensive runner
fails the test if called) and ``synthetic_report``, a report built from the synthetic
results of :mod:`synthetic_results` (3 seeds, 3 categories x 5 objects; seconds, not a
smoke run)."""

from __future__ import annotations

import pytest
from synthetic_results import write_results

#: Every expensive runner a user mistake must be refused before.
STAGE_RUNNERS = ("bench_softras.experiments.fitting.run_fitting",
                 "bench_softras.experiments.fitting.run_ablations",
                 "bench_softras.experiments.fit_bench.run_fit_benchmark",
                 "bench_softras.experiments.evaluate.run_reconstruction",
                 "bench_softras.experiments.train._train_locked",
                 "bench_softras.studies.gradients.run_gradient_config",
                 "bench_softras.data.build_synthetic",
                 "bench_softras.studies.timing.run_timing_study")


def _boom(*a, **k):
    raise AssertionError("an expensive stage ran before the input was checked")


@pytest.fixture
def no_work(monkeypatch):
    """Make every runner of :data:`STAGE_RUNNERS` fail the test if called."""
    for target in STAGE_RUNNERS:
        monkeypatch.setattr(target, _boom)


@pytest.fixture(scope="session")
def synthetic_report(tmp_path_factory):
    """``(results dir, report dir)`` of the synthetic results and their report."""
    from bench_softras.report.build import build_report

    root = tmp_path_factory.mktemp("synthetic")
    res = write_results(root / "results")
    paths = build_report(res, root / "report")
    return res, paths["markdown"].parent
