"""pytest-benchmark: forward+backward of every renderer at the paper's setting, idle and
under load.

B = 64 images of the 642-vertex / 1280-face template sphere (benchmark cameras), 64x64,
sharpness = the paper's sigma (``renderers.soft_math.DEFAULT_SIGMA``) where the renderer
has one, float32, CPU unless ``SOFTRAS_BENCH_DEVICE=cuda``.  Every registered
renderer (``renderers.available()``, so renderers added later are included) and the
optional ``pytorch3d_soft`` (skipped, with the reason, when PyTorch3D does not import).
Each runs ``idle`` and ``loaded`` (two busy background processes; the ``load`` fixture
of ``conftest.py``).  Run with ``nox -s bench``; each result carries the peak RSS
increase of one forward+backward in ``extra_info``.  ``softras_torch`` is the dense
baseline (minutes per call on 2 cores), so it gets a single round, which is also
the call whose memory is measured (RSS sampling barely slows a minutes-long call);
``mitsuba`` traces 64 x 64 x 64 x 64 spp = 16.8M rays per call (tens of seconds), so it
gets one untimed warm-up call (Dr.Jit compiles its kernels) and then the same single
measured round; ``pytorch3d_soft`` (PyTorch3D's CPU rasterizer: about 16 s per call,
idle) also gets the single measured round.
The terminal summary (``conftest.py``) prints the memory figures, the loaded/idle ratio
per renderer and the PyTorch3D ratio.
"""

from __future__ import annotations

import os

import pytest
import torch

import renderers
from bench_softras.studies.timing import PeakRSS, _malloc_trim
from metrics.meshes import template_sphere
from renderers.peers import absent_peers
from renderers.soft_math import DEFAULT_SIGMA

BATCH, IMAGE, SIGMA = 64, 64, DEFAULT_SIGMA
DEVICE = os.environ.get("SOFTRAS_BENCH_DEVICE", "cpu")
ABSENT = absent_peers()  # optional peer name -> why it is absent
NAMES = renderers.names(absent=True)  # every known renderer, in display order
#: Slow renderers timed in one round -> whether they need an untimed warm-up call first
#: (a JIT compile).
SINGLE_ROUND = {"softras_torch": False, "mitsuba": True, "pytorch3d_soft": False}


@pytest.fixture(scope="module")
def scene():
    v, f = template_sphere()
    verts = torch.as_tensor(v, dtype=torch.float32, device=DEVICE)[None].expand(BATCH, -1, -1)
    views = torch.arange(BATCH) % 24
    cam = renderers.Camera.benchmark(views)
    return verts.contiguous(), torch.as_tensor(f, device=DEVICE), cam


def _make(name):
    return renderers.build(name, image_size=IMAGE, sharpness=SIGMA)


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward(benchmark, scene, name, load):
    if DEVICE == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    if name in ABSENT:
        pytest.skip(f"{name}: {ABSENT[name]}")
    verts, faces, cam = scene
    r = _make(name)
    weight = torch.rand(BATCH, IMAGE, IMAGE, device=DEVICE, generator=None)

    def step():
        v = verts.clone().requires_grad_(True)
        s = r.render(v, faces, cam)
        (s * weight).sum().backward()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        return v.grad

    if name in SINGLE_ROUND:  # the one timed call is also measured
        if SINGLE_ROUND[name]:
            assert torch.isfinite(step()).all()
        _malloc_trim()
        with PeakRSS() as mem:
            benchmark.pedantic(step, rounds=1, iterations=1)
    else:
        grad = step()  # warm-up: compiles the Taichi kernels
        assert torch.isfinite(grad).all()
        _malloc_trim()
        with PeakRSS() as mem:
            step()
        benchmark.pedantic(step, rounds=10, iterations=1, warmup_rounds=1)
    # Process-wide peak RSS during one forward+backward (an upper bound on the
    # renderer's memory: it includes torch, Taichi and open3d themselves), and its
    # increase over the RSS just before the call (after malloc_trim).
    benchmark.extra_info["peak_rss_mb"] = mem.peak / 2**20
    benchmark.extra_info["peak_rss_increase_mb"] = (mem.peak - mem.base) / 2**20
    benchmark.extra_info.update(batch=BATCH, image_size=IMAGE, faces=int(faces.shape[0]),
                                sigma=getattr(r, "sigma", None), device=DEVICE,
                                item=f"fwd+bwd {name}", load=load)
