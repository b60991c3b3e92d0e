"""Shared fixtures of the experiment, command and study tests: tiny configs, a tiny
multi-view data set (boxes and spheres rendered by the exact ``hard`` renderer) and
``no_work`` (every expensive runner fails the test if called)."""

from __future__ import annotations

import pytest
import torch
from tiny_data import TINY_MODEL, make_tiny_data  # this folder is on sys.path (pytest prepends it)

from bench_softras.data import MultiViewData
from bench_softras.settings import ReconConfig
from metrics.meshes import template_sphere


def tiny_config(tmp_path, **kw) -> ReconConfig:
    """A reconstruction config small enough for a unit test (16x16 renders)."""
    base = dict(renderer="softras_torch", out_dir=str(tmp_path / "run"), preset="test",
                image_size=16, batch_size=2, iterations=4, checkpoint_every=2, log_every=1,
                lr_decay_at=0, sigma=1e-3, eval_batch_size=24, model=TINY_MODEL)
    base.update(kw)
    return ReconConfig(**base)


@pytest.fixture
def make_config(tmp_path):
    """Factory of tiny configs writing under this test's ``tmp_path``."""
    return lambda **kw: tiny_config(tmp_path, **kw)


@pytest.fixture(scope="session")
def tiny_data() -> MultiViewData:
    return make_tiny_data()


@pytest.fixture(scope="session")
def template():
    v, f = template_sphere()
    return torch.as_tensor(v, dtype=torch.float32), torch.as_tensor(f)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory, tiny_data):
    """``tiny_data`` written in the benchmark layout as the train, val and test splits."""
    from bench_softras.data import write_split

    d = tmp_path_factory.mktemp("tiny_data")
    for cls in tiny_data.classes:
        idx = tiny_data.indices_of(cls)
        for split in ("train", "val", "test"):
            write_split(d, cls, split, tiny_data.images[idx], tiny_data.voxels[idx])
    return d


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
