"""The work-saving parts of the softras kernels change no result: the row spans drop
only pairs the distance test culls, the pair cache gives the gradient of the recomputed
pairs, and the CPU forward is deterministic.  Faces: random, slivers, one far vertex,
zero-area, both windings, huge off-screen; float32 and float64 arithmetic."""

from __future__ import annotations

import pytest
import taichi as ti
import torch
from random_meshes import REPEATED, random_faces
from random_meshes import hard_faces as _hard_faces

from renderers import taichi_queue
from renderers.soft_math import cull_dist2
from renderers.softras import function, kernels
from renderers.softras.function import BAND_ROWS, pixel_center_table
from renderers.taichi_runtime import ensure_init

SIZE = (23, 31)  # H, W: not powers of two, not square
def _centers():
    return pixel_center_table(*SIZE, torch.device("cpu"))


def _forward(fv, dt, sigma, spans=True, banded=True, cap=0, band_rows=BAND_ROWS,
             sentinel=False):
    """The forward kernel alone on ``fv``: ``(lines, acc, cache_w, cache_k, params)``;
    ``sentinel``: the pair cache starts as 7 / -1 (values it never holds)."""
    ensure_init("cpu")
    tdt = {torch.float32: ti.f32, torch.float64: ti.f64}
    nb, nf = fv.shape[:2]
    lines = torch.empty(nb, nf, kernels.LINE_VALUES, dtype=dt)
    kernels.edge_lines(fv, lines)
    acc = torch.zeros(nb, *SIZE, dtype=dt)
    cw = torch.full((nb, nf, max(cap, 1)), 7.0 if sentinel else 0.0, dtype=dt)
    ck = torch.full(cw.shape, -1 if sentinel else 0, dtype=torch.int8)
    max_d2 = cull_dist2(sigma)
    box = torch.empty(nb, nf, 5, dtype=torch.int32)
    blocks = torch.empty(nb, -(-nf // kernels.FACE_BLOCK), 2, dtype=torch.int32)
    kernels.soft_log_sum(fv, lines, acc, cw, ck, box, blocks, taichi_queue.counters(2),
                         taichi_queue.slots(), cap, 1.0 / sigma, max_d2, max_d2 ** 0.5,
                         band_rows, tdt[dt], banded, spans, torch.empty(1, 1, 3, dtype=fv.dtype),
                         torch.empty(1, 3, dtype=torch.int32), False, _centers())
    return lines, acc, cw, ck, (1.0 / sigma, max_d2, max_d2 ** 0.5, tdt[dt])


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("sigma", [3e-5, 1e-3, 3e-2])
def test_row_spans_drop_only_culled_pairs(dt, sigma):
    """Same faces with and without the row spans, one thread per image (faces added in
    the same order): equal bit for bit, so no kept pair was dropped."""
    fv = _hard_faces()
    fv = fv if dt == torch.float64 else fv.float()
    _, with_spans, *_ = _forward(fv, dt, sigma, spans=True)
    _, box_only, *_ = _forward(fv, dt, sigma, spans=False)
    assert (box_only != 0).any()
    assert torch.equal(with_spans, box_only)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
def test_pair_cache_gives_the_recomputed_gradient(dt):
    """Backward with the cache (every pair, or only the first 3 per face, the rest
    recomputed; filled by the CPU layout or by the CUDA one, one thread per face)
    equals the backward that recomputes every pair, to rounding, in the
    vertex gradient (a pixel nearest to a vertex is equally near both its edges, and
    rounding may pick either edge's line values; the vertex gradient is the same; for a
    repeated vertex only the two copies' total is)."""
    fv = _hard_faces()
    fv = fv if dt == torch.float64 else fv.float()
    grad_acc = torch.rand(fv.shape[0], *SIZE, dtype=dt, generator=torch.Generator().manual_seed(1))
    grads = []
    for cap, banded in ((0, True), (3, True), (32, True), (32, False)):
        lines, acc, cw, ck, params = _forward(fv, dt, 1e-3, cap=cap, banded=banded)
        for queued in (True, False):  # the CPU task queue, or one thread per face
            fv_grad = torch.empty_like(fv)
            kernels.soft_log_sum_backward(fv, lines, grad_acc, fv_grad, cw, ck,
                                          taichi_queue.counters(1), taichi_queue.slots(),
                                          cap, *params, queued, True, False, _centers())
            # faces 30:35 repeat a vertex: only the coincident pair's total is defined
            fv_grad[:, REPEATED, 1] += fv_grad[:, REPEATED, 2]
            fv_grad[:, REPEATED, 2] = 0
            grads.append(fv_grad)
    tol = 1e-5 if dt == torch.float32 else 1e-12
    scale = grads[0].abs().max()
    assert scale > 0
    for g in grads[1:]:
        assert (g - grads[0]).abs().max() <= tol * scale


def test_cpu_forward_is_deterministic_and_equals_per_face_layout():
    """One thread per image (the CPU layout) twice: bit-equal; one thread per face
    (atomic adds, the CUDA layout): equal to rounding."""
    fv = random_faces(3, 200, seed=2).float()
    a = _forward(fv, torch.float32, 3e-4)[1]
    b = _forward(fv, torch.float32, 3e-4)[1]
    c = _forward(fv, torch.float32, 3e-4, banded=False)[1]
    assert torch.equal(a, b)
    assert torch.allclose(a, c, rtol=1e-5, atol=1e-5)


def test_cache_slots_respect_the_memory_bound():
    assert function.cache_slots(64, 1280, 4) == function.CACHE_SLOTS
    small = function.cache_slots(64, 200_000, 4)
    assert 0 < small < function.CACHE_SLOTS
    assert small * 64 * 200_000 * 5 <= function.CACHE_BYTES
    assert function.cache_slots(4096, 2**20, 8) == 0


def _band_edge_faces() -> torch.Tensor:
    """[2, 90, 3, 3] float32 faces for the band split: :func:`_hard_faces`, then faces
    whose top or bottom vertex lies exactly on a pixel row's centre (rows 0-8 of
    ``SIZE``: the first and last rows of small bands), and faces spanning most of the
    image (their boxes cross every band border, their pairs fill and overflow the
    pair cache)."""
    fv = torch.cat([_hard_faces(), random_faces(2, 30, seed=11)], 1).float()
    height = SIZE[0]
    g = torch.Generator().manual_seed(3)
    rows = torch.randint(0, 9, (2, 20), generator=g)
    row_y = (height - 1.0 - 2.0 * rows) / height  # renderers.grid's pixel centres
    fv[:, 60:80, 0, 1] = row_y.float()
    fv[:, 60:70, 1, 1] = (row_y[:, :10] - 6.0 / height).float()  # ends 3 rows lower
    fv[:, 80:90, :, :2] *= 4.0  # large, partly off-screen
    return fv


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("spans", [True, False])
def test_band_split_changes_no_bit(dt, spans):
    """The CPU forward split into bands of 1, 2, 3, 7 or more rows (faces crossing band
    borders, vertices on a band's first or last pixel row, faces spanning every band)
    gives the silhouettes, lines and pair cache (3 or 32 slots per face: counted from
    each face's first row, whichever band holds it) of one band per image, bit for bit;
    slots a face never reaches keep their sentinel."""
    fv = _band_edge_faces().to(dt)
    height = SIZE[0]
    for cap in (3, 32):
        ref = None
        for band_rows in (height, 1, 2, 3, 7, height + 5):
            lines, acc, cw, ck, _ = _forward(fv, dt, 3e-3, spans=spans, cap=cap,
                                             band_rows=band_rows, sentinel=True)
            got = (lines, acc, cw, ck)
            if ref is None:
                ref = got
                assert (cw == 7).any() and (cw != 7).any() and (acc != 0).any()
                continue
            for a, b in zip(got, ref, strict=True):
                assert torch.equal(a, b), (cap, band_rows)


def _fwd_bwd_digest() -> str:
    """SHA-1 of float32 ``softras`` silhouettes and vertex gradients (5 images of 400
    random faces, 45x37, sigma 1e-3) in this process."""
    import hashlib

    import renderers

    r = renderers.build("softras", image_size=(45, 37), sharpness=1e-3)
    fv = random_faces(5, 400, dtype=torch.float32, seed=4, scale=0.9).requires_grad_(True)
    weight = torch.rand(5, 45, 37, generator=torch.Generator().manual_seed(2))
    silhouettes = r.rasterize(fv)
    (silhouettes * weight).sum().backward()
    data = silhouettes.detach().numpy().tobytes() + fv.grad.numpy().tobytes()
    return hashlib.sha1(data).hexdigest()


def test_cpu_results_do_not_depend_on_the_thread_count():
    """Float32 silhouettes and vertex gradients: three calls on 2 Taichi threads (a
    fresh process, so the pool really has two) give the bits of this process's call
    (the band tasks land on either thread in any order; each pixel still adds its faces
    in order, each face's gradient is summed by one thread)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).parent)
    script = (f"import sys; sys.path.insert(0, {tests!r}); import test_softras_kernels as t; "
              "print(*(t._fwd_bwd_digest() for _ in range(3)))")
    env = {**os.environ, "SOFTRAS_BENCH_THREADS": "2", "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    digests = done.stdout.split()[-3:]
    here = _fwd_bwd_digest()
    assert digests == [here] * 3, (digests, here)


@pytest.mark.parametrize("sigma", [3e-5, 1e-3, 3e-2])
def test_pair_count_is_the_pairs_the_forward_visits(sigma):
    """The timing study's work count (:func:`function.pair_count`) per face equals the
    pairs the forward visits: with a pair cache wide enough for every face (sentinel
    start), the slots it wrote."""
    ensure_init("cpu")
    fv = _hard_faces()
    nb, nf = fv.shape[:2]
    radius = cull_dist2(sigma) ** 0.5
    lines = torch.empty(nb, nf, kernels.LINE_VALUES, dtype=torch.float64)
    kernels.edge_lines(fv, lines)
    counts = torch.zeros(nb, nf, dtype=torch.int64)
    kernels.pair_counts(fv, lines, counts, radius, *SIZE, _centers())
    _, _, cw, _, _ = _forward(fv, torch.float64, sigma, cap=SIZE[0] * SIZE[1],
                              sentinel=True)
    visited = (cw != 7.0).sum(dim=-1)
    assert counts.min() >= 0 and counts.max() > 0
    assert torch.equal(counts, visited)
    assert function.pair_count(fv, *SIZE, radius, torch.float64) == int(visited.sum())
