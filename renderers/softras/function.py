"""``torch.autograd.Function`` around the SoftRas Taichi kernels
(:mod:`renderers.softras.kernels`): forward = ``soft_log_sum`` (which also writes the
edge lines), backward = its hand-written adjoint ``soft_log_sum_backward`` (through the
lines into the face vertices): one kernel launch each way.  Per call it allocates
``lines`` [B, F, 16], ``acc`` [B, H, W], the pair cache (:func:`cache_slots`, kept
for the backward; at most :data:`CACHE_BYTES`) and, on the CPU, the face boxes of the
band tasks (:data:`BAND_ROWS`; 24 bytes per face) in the forward, the vertex gradient
in the backward, and makes no host round trip."""

from __future__ import annotations

import functools
from typing import NamedTuple

import taichi as ti
import torch
from torch.autograd.function import once_differentiable

from .. import taichi_queue
from ..face_boxes import candidate_pairs
from ..grid import pixel_centers
from ..taichi_runtime import kernel_device
from . import kernels

_INT32_MAX = 2**31 - 1
#: Accepted values of the ``precision`` option (see :func:`compute_dtype`).
PRECISIONS = ("auto", "float32", "float64")
#: Accepted values of the ``backward`` option: the hand-written adjoint kernels
#: (:class:`SoftLogSum`) or Taichi's reverse mode of the same forward
#: (:func:`autodiff_log_sum`).
BACKWARDS = ("adjoint", "autodiff")


def check_precision(precision: str) -> str:
    """``precision``: one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def compute_dtype(precision: str, input_dtype: torch.dtype, kernel_dev: torch.device):
    """The dtype the per-pair kernels compute in: ``float32``/``float64`` as asked;
    ``auto``: the input's dtype, on every device.  Float32 is thus the default wherever
    torch's default dtype is (float64 runs at 1/32-1/64 speed on most GPUs), and float64
    input asks for float64 (measured on an H200: float32 input within 3e-5 of the CPU
    float64 result, float64 input within 2e-14).  The per-face setup is float64 and the
    output has the input's dtype always.  ``kernel_dev`` is where the kernels run (kept
    for a device-dependent rule)."""
    del kernel_dev
    if precision == "auto":
        return input_dtype
    return torch.float32 if precision == "float32" else torch.float64


def _taichi_dtype(dtype: torch.dtype):
    return ti.f32 if dtype == torch.float32 else ti.f64


def check_index_range(nb: int, nf: int, height: int, width: int) -> None:
    """Taichi indexes arrays with int32: refuse batches whose ``lines`` [B, F, 16] or
    images [B, H, W] would overflow it, before anything is allocated."""
    largest = max(nb * nf * kernels.LINE_VALUES, nb * height * width)
    if largest > _INT32_MAX:
        raise ValueError(
            f"{largest} array elements exceed the int32 index limit of the Taichi kernels; "
            "render fewer images per batch, fewer faces or smaller images"
        )


def pair_count(face_vertices: torch.Tensor, height: int, width: int, radius: float,
               dtype: torch.dtype) -> int:
    """Pixel-face pairs the kernels evaluate for ``face_vertices`` [B, F, 3, 3] in
    ``dtype``: pixels in every face's bounding box grown by the cull ``radius``
    (clamped to the image), each row cut to the span within the edge lines shifted out
    by ``radius`` (:func:`kernels.pair_counts`)."""
    fv = face_vertices.detach().to(kernel_device(face_vertices.device)).contiguous()
    nb, nf = fv.shape[:2]
    counts = torch.zeros(nb, nf, dtype=torch.int64, device=fv.device)
    if nf:
        lines = torch.empty(nb, nf, kernels.LINE_VALUES, dtype=dtype, device=fv.device)
        kernels.edge_lines(fv, lines)
        kernels.pair_counts(fv, lines, counts, radius, height, width,
                            pixel_center_table(height, width, fv.device))
    return int(counts.sum())


#: Most slots per face of the forward's pair cache (:func:`kernels.soft_log_sum`): a
#: face's first pairs keep ``+-sigmoid(z)`` and their nearest edge, so the backward
#: recomputes neither the distances nor ``exp`` for them (the rest are recomputed).
#: 32 holds every pair of the paper setting's faces (about 7 per face on average).
CACHE_SLOTS = 32
#: Memory bound of that cache per call (bytes); fewer slots per face beyond it.
CACHE_BYTES = 64 * 2**20


def cache_slots(nb: int, nf: int, value_bytes: int) -> int:
    """Slots per face of the pair cache for ``nb`` images of ``nf`` faces with
    ``value_bytes``-byte values (plus one byte for the edge): :data:`CACHE_SLOTS`,
    fewer where the cache would exceed :data:`CACHE_BYTES` or the int32 index range
    (0 = no cache)."""
    per_slot = max(1, nb * nf) * (value_bytes + 1)
    return int(min(CACHE_SLOTS, CACHE_BYTES // per_slot, _INT32_MAX // max(1, nb * nf)))


@functools.lru_cache(maxsize=16)
def pixel_center_table(height: int, width: int, device: torch.device) -> torch.Tensor:
    """float64 ``[W + H]`` on ``device``: the pixel centres' screen x of columns ``0..W-1``,
    then y of rows ``0..H-1`` (:func:`renderers.grid.pixel_centers`, the one grid
    rule).  The kernels read a pair's ``x`` and a row's ``y`` from it (a division per
    pair on the CPU's critical path before; the same values).  Cached per size and
    device; never written."""
    xs, ys = pixel_centers(height, width, torch.float64, device)
    return torch.cat([xs, ys]).contiguous()


#: Image rows per task of the CPU forward (:func:`kernels.soft_log_sum`, ``banded``):
#: B x ceil(H / BAND_ROWS) tasks (paper setting: 64 x 8 = 512), enough for the task
#: queue (:mod:`renderers.taichi_queue`) to keep every core busy, while a face's box
#: (about 3 rows at the paper
#: setting) seldom crosses a band border (a face met by two bands sets up twice).  The
#: result does not depend on it (each pixel's faces are added in order either way).
BAND_ROWS = 8


class KernelParams(NamedTuple):
    """The scalar arguments the forward and backward pair kernels share (saved on the
    autograd context between them)."""

    inv_sigma: float  #: 1 / sigma (sigma in squared normalized screen units)
    max_d2: float  #: squared cull distance (:func:`renderers.soft_math.cull_dist2`)
    radius: float  #: cull distance: how far each face's pixel box is grown
    compute_dtype: object  #: Taichi dtype of the per-pair arithmetic (``ti.f32``/``ti.f64``)


class SoftLogSum(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], H, W, sigma, max_d2, dtype) -> acc [B, H, W]`` with
    ``acc = sum_f log(1 - D_f)`` (culled pairs contribute 0), computed in ``dtype``
    (float32/float64) and returned in the input's dtype on the input's device.

    With ``faces`` (int64 [F, 3], indices checked in ``0..V-1``; CPU tensors only) the
    first argument is the vertices ``[B, V, 3]`` instead and the kernels do the
    gather themselves: the forward's setup tasks copy each face's vertices (no
    ``[B, F, 3, 3]`` gather before the launch) and the backward writes the face-vertex
    gradient a row per face corner, which one ``index_add_`` sums into the vertices,
    in face order (:func:`renderers.base.gather_faces`' backward, without its
    transposed copy).  Same values, same bits, as the gather followed by this
    function."""

    @staticmethod
    def forward(ctx, points, height: int, width: int, sigma: float, max_d2: float,
                dtype: torch.dtype, faces: torch.Tensor | None = None):
        out_device = points.device
        dev = kernel_device(out_device)
        indexed = faces is not None
        pts = points.detach().to(dev).contiguous()
        if indexed:
            nb, nf = pts.shape[0], faces.shape[0]
            fv = torch.empty(nb, nf, 3, 3, dtype=pts.dtype, device=dev)
            sv, face_idx = pts, faces.to(dev, torch.int32).contiguous()
        else:
            fv, (nb, nf) = pts, pts.shape[:2]
            sv = torch.empty(1, 1, 3, dtype=pts.dtype, device=dev)
            face_idx = torch.empty(1, 3, dtype=torch.int32, device=dev)
        check_index_range(nb, nf, height, width)
        acc = torch.zeros(nb, height, width, dtype=dtype, device=dev)
        lines = torch.empty(nb, nf, kernels.LINE_VALUES, dtype=dtype, device=dev)
        params = KernelParams(1.0 / sigma, max_d2, max_d2 ** 0.5, _taichi_dtype(dtype))
        cap = cache_slots(nb, nf, torch.finfo(dtype).bits // 8)
        cache_w = torch.empty(nb, nf, cap, dtype=dtype, device=dev) if cap else \
            torch.empty(1, 1, 1, dtype=dtype, device=dev)
        cache_k = torch.empty(cache_w.shape, dtype=torch.int8, device=dev)
        banded = dev.type == "cpu"  # (image, band of rows) tasks; CUDA: one per face
        if indexed and not banded:
            raise ValueError("SoftLogSum with faces runs on the CPU only; gather the faces")
        face_box = torch.empty((nb, nf, 5) if banded else (1, 1, 5), dtype=torch.int32,
                               device=dev)
        block_rows = torch.empty((nb, -(-nf // kernels.FACE_BLOCK), 2) if banded else
                                 (1, 1, 2), dtype=torch.int32, device=dev)
        queue = taichi_queue.counters(2, dev)
        if nf:  # one launch: the lines (and with faces the gather) are written in it too
            kernels.soft_log_sum(fv, lines, acc, cache_w, cache_k, face_box, block_rows, queue,
                                 taichi_queue.slots(), cap, params.inv_sigma, params.max_d2,
                                 params.radius, BAND_ROWS, params.compute_dtype,
                                 banded=banded, spans=True, sv=sv, faces=face_idx,
                                 indexed=indexed,
                                 centers=pixel_center_table(height, width, dev))
        ctx.save_for_backward(fv, lines, cache_w, cache_k, queue,
                              faces.reshape(-1) if indexed else None)
        ctx.num_vertices = pts.shape[1] if indexed else 0  # 0: the input was fv
        ctx.cap = cap  # slots per face in the pair cache
        ctx.params = params  # KernelParams
        ctx.out_device = out_device  # where the gradient goes back to
        return acc.to(out_device, points.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_acc):
        fv, lines, cache_w, cache_k, queue, face_idx = ctx.saved_tensors
        nb, nf = fv.shape[:2]
        corner_major = ctx.num_vertices > 0
        fv_grad = fv.new_empty((nf, 3, nb, 3)) if corner_major else torch.empty_like(fv)
        if nf:
            grad_acc = grad_acc.to(lines.device, lines.dtype).contiguous()
            kernels.soft_log_sum_backward(fv, lines, grad_acc, fv_grad, cache_w, cache_k,
                                          queue, taichi_queue.slots(), ctx.cap, *ctx.params,
                                          queued=fv.device.type == "cpu", spans=True,
                                          corner_major=corner_major,
                                          centers=pixel_center_table(*grad_acc.shape[1:],
                                                                     fv.device))
        if corner_major:  # rows f * 3 + k summed into their vertices, in that order
            rows = fv_grad.view(nf * 3, nb * 3)
            out = rows.new_zeros(ctx.num_vertices, nb * 3).index_add_(0, face_idx, rows)
            fv_grad = out.view(-1, nb, 3).transpose(0, 1).contiguous()
        return fv_grad.to(ctx.out_device), None, None, None, None, None, None


def _taichi_grad(kernel, inputs, outputs, grads, *args):
    """Run Taichi's reverse mode ``kernel.grad``: ``inputs`` get zeroed ``.grad``
    buffers, ``outputs`` take ``grads``; ``args`` are the kernel's arguments in order
    (tensors among them are the ``inputs`` / ``outputs`` objects).  Returns the inputs'
    gradients."""
    for t in inputs:
        t.grad = torch.zeros_like(t)
    for t, g in zip(outputs, grads, strict=True):
        t.grad = g.to(t.dtype).contiguous()
    kernel.grad(*args)
    return [t.grad for t in inputs]


class EdgeLinesAutodiff(torch.autograd.Function):
    """``face_vertices [B, F, 3, 3] -> lines [B, F, 16]`` in ``dtype``
    (:func:`kernels.edge_lines`), differentiated by Taichi's reverse mode."""

    @staticmethod
    def forward(ctx, fv, dtype: torch.dtype):
        fv = fv.detach().contiguous()
        lines = torch.empty(*fv.shape[:2], kernels.LINE_VALUES, dtype=dtype, device=fv.device)
        kernels.edge_lines(fv, lines)
        ctx.save_for_backward(fv)
        ctx.dtype = dtype
        return lines

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lines):
        (fv,) = ctx.saved_tensors
        fv = fv.clone().requires_grad_(True)
        lines = torch.empty(*fv.shape[:2], kernels.LINE_VALUES, dtype=ctx.dtype,
                            device=fv.device, requires_grad=True)
        (g,) = _taichi_grad(kernels.edge_lines, [fv], [lines], [grad_lines], fv, lines)
        return g, None


class PairTermsAutodiff(torch.autograd.Function):
    """``(lines [B, F, 16], pair_face, rows, cols int32 [P], H, W, params) -> vals [P]``:
    each listed pair's ``log(1 - D)`` (:func:`kernels.soft_pair_terms`), differentiated
    by Taichi's reverse mode."""

    @staticmethod
    def forward(ctx, lines, pair_face, rows, cols, height: int, width: int,
                params: KernelParams):
        lines = lines.detach().contiguous()
        vals = torch.zeros(pair_face.shape[0], dtype=lines.dtype, device=lines.device)
        args = (pair_face, rows, cols)
        if pair_face.numel():
            kernels.soft_pair_terms(lines, *args, vals, params.inv_sigma, params.max_d2,
                                    height, width, params.compute_dtype)
        ctx.save_for_backward(lines, *args)
        ctx.shape = (height, width, params)
        return vals

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_vals):
        lines, pair_face, rows, cols = ctx.saved_tensors
        height, width, params = ctx.shape
        lines = lines.clone().requires_grad_(True)
        if not pair_face.numel():
            return torch.zeros_like(lines), None, None, None, None, None, None
        vals = torch.zeros(pair_face.shape[0], dtype=lines.dtype, device=lines.device,
                           requires_grad=True)
        (g,) = _taichi_grad(kernels.soft_pair_terms, [lines], [vals], [grad_vals], lines,
                            pair_face, rows, cols, vals, params.inv_sigma, params.max_d2,
                            height, width, params.compute_dtype)
        return g, None, None, None, None, None, None


def autodiff_log_sum(face_vertices: torch.Tensor, height: int, width: int, sigma: float,
                     max_d2: float, dtype: torch.dtype) -> torch.Tensor:
    """:class:`SoftLogSum`'s ``acc [B, H, W]`` (same arguments, same forward per pair)
    with Taichi's reverse mode as the backward (the ``backward="autodiff"`` option):
    every pixel of every face's box grown by the cull radius is listed
    (:func:`renderers.face_boxes.candidate_pairs`), :class:`PairTermsAutodiff` gives
    each pair's term and ``index_add`` sums them per pixel in face order (as the CPU
    forward of :class:`SoftLogSum`).  Slower and larger than the adjoints (no row spans,
    no pair cache, a pair list in memory); the gradient's float rounding follows the
    thread order."""
    out_device = face_vertices.device
    dev = kernel_device(out_device)
    fv = face_vertices.to(dev)
    nb, nf = fv.shape[:2]
    check_index_range(nb, nf, height, width)
    acc = torch.zeros(nb * height * width, dtype=dtype, device=dev)
    if nf:
        params = KernelParams(1.0 / sigma, max_d2, max_d2 ** 0.5, _taichi_dtype(dtype))
        lines = EdgeLinesAutodiff.apply(fv, dtype)
        bounds, pair_face, offsets = candidate_pairs(fv.detach().contiguous(), height, width,
                                                     params.radius)
        face = pair_face.long()
        box = bounds.reshape(-1, 6).long()[face]  # (i0, i1, j0, j1, count, row width)
        k = torch.arange(face.numel(), device=dev) - offsets.long()[face]
        rows, cols = box[:, 0] + k // box[:, 5], box[:, 2] + k % box[:, 5]
        vals = PairTermsAutodiff.apply(lines, pair_face, rows.int(), cols.int(), height,
                                       width, params)
        acc = acc.index_add(0, ((face // nf) * height + rows) * width + cols, vals)
    return acc.reshape(nb, height, width).to(out_device, face_vertices.dtype)
