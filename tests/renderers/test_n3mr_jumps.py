"""The out-scan jump table of ``n3mr``'s backward (:func:`renderers.n3mr.kernels.out_jumps`):
the table against a brute-force walk, and the backward with it against the full scan,
bit for bit, on random and hard faces, non-square images, and gradients with zeros
and NaNs."""

import pytest
import torch
from random_meshes import hard_faces, random_faces

from renderers.hard import rasterize_nearest_face
from renderers.n3mr import N3MRRasterize, approximate_gradient, kernels
from renderers.n3mr.function import _unchecked_gradient
from renderers.taichi_runtime import ensure_init

EPS = 1e-3


def _brute_table(alpha: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``nxt`` [B, 4, H, W] of :func:`kernels.out_jumps` by walking every line in Python."""
    nb, h, w = alpha.shape
    adds = (alpha == 0) & (grad < 0)
    nxt = torch.empty(nb, 4, h, w, dtype=torch.int32)
    for b in range(nb):
        for d in range(4):
            axis, step = d // 2, 1 if d % 2 else -1
            n_v = h if axis == 0 else w
            for i in range(h):
                for j in range(w):
                    v = i if axis == 0 else j
                    while 0 <= v < n_v and not (adds[b, v, j] if axis == 0 else adds[b, i, v]):
                        v += step
                    nxt[b, d, i, j] = v if 0 <= v < n_v else (n_v if step > 0 else -1)
    return nxt


def _gradient_maps(nb: int, h: int, w: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """A loss gradient [B, H, W] of both signs with exact zeros and a few NaNs."""
    g = torch.Generator().manual_seed(seed)
    grad = torch.randn(nb, h, w, generator=g, dtype=torch.float64).to(dtype)
    grad[torch.rand(nb, h, w, generator=g) < 0.2] = 0
    grad[0, 0, :3] = float("nan")
    return grad


@pytest.mark.parametrize("size", [(5, 7), (9, 4)])
def test_out_jumps_table_matches_a_brute_force_walk(size):
    ensure_init("cpu")
    h, w = size
    g = torch.Generator().manual_seed(3)
    alpha = (torch.rand(3, h, w, generator=g) < 0.5).double()
    grad = _gradient_maps(3, h, w, torch.float64, seed=4)
    nxt = torch.full((3, 4, h, w), -7, dtype=torch.int32)
    kernels.out_jumps(alpha, grad, nxt)
    assert torch.equal(nxt, _brute_table(alpha, grad))


def _cases(dtype):
    yield random_faces(3, 40, dtype, seed=1, scale=1.2), (24, 40)
    yield hard_faces().to(dtype), (32, 32)
    yield random_faces(2, 200, dtype, seed=2, scale=0.3), (64, 48)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_jump_scan_equals_the_full_scan_bit_for_bit(dtype):
    """With the binary silhouette of the forward, skipping the pixels that add nothing
    (the jump table) gives the same bits as scanning every pixel to the border."""
    for k, (fv, (h, w)) in enumerate(_cases(dtype)):
        sil, idx = rasterize_nearest_face(fv, h, w)
        grad = _gradient_maps(fv.shape[0], h, w, dtype, seed=k)
        full = _unchecked_gradient(fv, sil, idx, grad, EPS, jumps=False)
        jumped = _unchecked_gradient(fv, sil, idx, grad, EPS, jumps=True)
        assert torch.count_nonzero(torch.nan_to_num(full)) > 20
        assert torch.equal(full.isnan(), jumped.isnan())
        assert torch.equal(torch.nan_to_num(full), torch.nan_to_num(jumped))
        # the public function (any silhouette) takes the full scan
        public = approximate_gradient(fv, sil, idx, grad, EPS)
        assert torch.equal(torch.nan_to_num(public), torch.nan_to_num(full))


def test_the_autograd_backward_uses_the_binary_silhouette():
    """:class:`N3MRRasterize` hands its own ``face_index >= 0`` silhouette to the jump
    path: the same bits as the public full scan of that silhouette."""
    fv = random_faces(2, 60, torch.float64, seed=8, scale=0.9).requires_grad_(True)
    sil = N3MRRasterize.apply(fv, 24, 32, EPS)
    grad = _gradient_maps(2, 24, 32, torch.float64, seed=9).nan_to_num()
    (sil * grad).sum().backward()
    _, idx = rasterize_nearest_face(fv.detach(), 24, 32)
    ref = approximate_gradient(fv.detach(), (idx >= 0).double(), idx, grad, EPS)
    assert torch.count_nonzero(ref) > 20
    assert torch.equal(fv.grad, ref)


def test_queued_tasks_equal_one_thread_per_face():
    """The CPU layout (tasks of :data:`kernels.FACE_BLOCK` faces from a queue) and the
    GPU layout (one thread per face), both run here on the CPU: the same bits."""
    from renderers import taichi_queue

    fv = random_faces(3, 70, torch.float64, seed=11, scale=0.9)
    sil, idx = rasterize_nearest_face(fv, 24, 40)
    grad = _gradient_maps(3, 24, 40, torch.float64, seed=12).nan_to_num()
    nxt = torch.empty(3, kernels.JUMP_DIRECTIONS, 24, 40, dtype=torch.int32)
    kernels.out_jumps(sil, grad, nxt)
    results = []
    for queued in (True, False):
        out = torch.full(fv.shape, float("nan"), dtype=torch.float64)
        kernels.approximate_gradient(fv, idx, sil, grad, out, EPS, nxt, True,
                                     taichi_queue.counters(1), taichi_queue.slots(), queued)
        results.append(out)
    assert torch.count_nonzero(results[0]) > 20 and not results[0].isnan().any()
    assert torch.equal(results[0], results[1])
