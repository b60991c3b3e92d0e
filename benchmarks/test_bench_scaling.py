"""pytest-benchmark: thread scaling of every Taichi renderer, forward and backward
separately, at 1 and 2 threads (the paper setting of ``scaling.py``: B 64, 1280 faces,
64x64, sigma 3e-5, float32).

The thread count is the module-scoped ``pool_threads`` fixture
(:func:`renderers.threads.configure`, which re-initialises Taichi: its kernels
recompile once per count).  The terminal summary (``conftest.py``) prints the
1-vs-2-thread table with the target (:data:`scaling.SCALING_TARGET`); on a busy
machine run ``python benchmarks/scaling.py`` instead, whose CPU-time estimate holds
under load.
"""

from __future__ import annotations

import pytest
import torch
from scaling import BATCH, IMAGE, RENDERERS, THREADS, _build, _scene

from renderers import threads


@pytest.fixture(scope="module", params=THREADS)
def pool_threads(request):
    before = threads.taichi_threads()
    threads.configure(request.param)
    yield request.param
    threads.configure(before)


@pytest.mark.parametrize("kind", ["forward", "backward"])
@pytest.mark.parametrize("label", RENDERERS)
def test_thread_scaling(benchmark, pool_threads, label, kind):
    verts, faces, cam = _scene()
    r = _build(label)
    weight = torch.rand(BATCH, IMAGE, IMAGE, generator=torch.Generator().manual_seed(0))

    def forward():
        v = verts.clone().requires_grad_(True)
        return ((r.render(v, faces, cam) * weight).sum(),), {}

    forward()[0][0].backward()  # compile and warm up
    if kind == "forward":
        benchmark.pedantic(forward, rounds=7, iterations=1, warmup_rounds=1)
    else:
        benchmark.pedantic(lambda loss: loss.backward(), setup=forward, rounds=7,
                           warmup_rounds=1)
    benchmark.extra_info.update(scaling={"renderer": label, "pass": kind,
                                         "threads": pool_threads})
