"""Every registered renderer on CUDA against its own CPU result, forward and backward,
in float32 and float64.

The renderers are read from the registry (``renderers.available()``), so renderers
added later are covered without editing this file.  The CPU references are computed
with Taichi on the CPU; then Taichi is re-initialised on CUDA
(:func:`renderers.taichi_runtime.reinit`), so CUDA tensors go to the kernels directly;
at the end the previous arch is restored.  Skipped ("needs CUDA") when torch sees no
GPU or Taichi cannot start on CUDA.
"""

from __future__ import annotations

import os

import pytest
import torch
from random_meshes import random_faces

import renderers
from renderers import taichi_runtime

pytestmark = pytest.mark.cuda
NAMES = renderers.available()
DTYPES = (torch.float32, torch.float64)
IMAGE, SIGMA = 32, 1e-3
#: (forward atol, gradient rtol, gradient atol relative to the gradient's max |g|).
TOLERANCE = {torch.float32: (1e-4, 1e-3, 1e-3), torch.float64: (1e-9, 1e-7, 1e-9)}
#: Renderers computing in float32 whatever the input dtype, with a gradient that is not
#: bit-reproducible run to run (``mitsuba``: Dr.Jit adds the splatted silhouette samples
#: with float32 atomics, in any order; measured 1e-6 relative): float32 tolerances.
FLOAT32_ONLY = {"mitsuba"}


def _renderer(name: str):
    return renderers.build(name, image_size=IMAGE, sharpness=SIGMA)


def _inputs(dtype: torch.dtype):
    fv = random_faces(2, 12, seed=11).to(dtype)
    g = torch.Generator().manual_seed(12)
    grad_out = torch.rand(2, IMAGE, IMAGE, generator=g, dtype=torch.float64).to(dtype)
    return fv, grad_out


def _run(name: str, dtype: torch.dtype, device: str):
    fv, grad_out = _inputs(dtype)
    x = fv.to(device).requires_grad_(True)
    out = _renderer(name).rasterize(x)
    out.backward(grad_out.to(device))
    grad = x.grad if x.grad is not None else torch.zeros_like(x)
    return out.detach(), grad


@pytest.fixture(scope="module")
def cpu_references():
    """``{(name, dtype): (silhouettes, gradient)}`` on the CPU; Taichi on CUDA while
    the module's tests run."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA (torch sees no CUDA GPU)")
    before = taichi_runtime.current_arch()
    if before != "cpu":
        taichi_runtime.reinit("cpu")
    refs = {(n, d): _run(n, d, "cpu") for n in NAMES for d in DTYPES}
    try:
        if taichi_runtime.reinit("cuda") != "cuda":
            pytest.skip("needs CUDA (Taichi cannot initialise CUDA)")
        yield refs
    finally:
        taichi_runtime.reinit(before or os.environ.get(taichi_runtime.ARCH_ENV) or "cpu")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(cpu_references, name, dtype):
    ref_out, ref_grad = cpu_references[(name, dtype)]
    out, grad = _run(name, dtype, "cuda")
    assert taichi_runtime.current_arch() == "cuda"
    assert out.device.type == "cuda" and out.dtype == ref_out.dtype
    assert out.shape == ref_out.shape and grad.shape == ref_grad.shape
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    fwd_atol, g_rtol, g_atol = TOLERANCE[torch.float32 if name in FLOAT32_ONLY else dtype]
    torch.testing.assert_close(out.cpu(), ref_out, rtol=0, atol=fwd_atol)
    scale = float(ref_grad.abs().max()) or 1.0
    torch.testing.assert_close(grad.cpu(), ref_grad, rtol=g_rtol, atol=g_atol * scale)
