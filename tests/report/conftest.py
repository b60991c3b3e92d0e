"""Fixtures of the report and command-line tests."""

from __future__ import annotations

import pytest

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
