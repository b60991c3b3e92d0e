"""Hard rasterization entry points (validated) and its ``torch.autograd.Function``.

:func:`rasterize_coverage` and :func:`rasterize_nearest_face` are the only callers of
the kernels in :mod:`renderers.hard.kernels`; both validate their input with
:func:`renderers.validation.check_face_vertices` before any kernel runs.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .. import taichi_queue
from ..base import gather_faces
from ..face_boxes import box_pixel_count
from ..grid import image_hw
from ..taichi_runtime import kernel_device
from ..validation import check_face_vertices, check_image_batch, vertices_pass_face_checks
from . import kernels

_EMPTY_KEY = kernels.EMPTY_KEY


def _check_size(batch: int, height: int, width: int) -> tuple[int, int]:
    """Validated ``(H, W)`` (see :func:`renderers.grid.image_hw`) whose ``[B, H, W]``
    buffers a kernel can index."""
    h, w = image_hw((height, width))
    check_image_batch(batch, h, w)
    return h, w


def rasterize_coverage(face_vertices: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Hard silhouettes ``[B, H, W]`` (1 = covered, 0 = background) in the dtype and on
    the device of ``face_vertices`` [B, F, 3, 3] (screen space, see
    :mod:`renderers.grid`).  Not differentiable (plain tensors in, plain tensor out)."""
    check_face_vertices(face_vertices, max_coordinate=None)  # exact for any finite input
    h, w = _check_size(face_vertices.shape[0], height, width)
    dev = kernel_device(face_vertices.device)
    fv = face_vertices.detach().to(dev).contiguous()
    out = torch.zeros(fv.shape[0], h, w, dtype=fv.dtype, device=dev)
    if fv.shape[1]:
        kernels.coverage(fv, out)
    return out.to(face_vertices.device)


def rasterize_nearest_face(face_vertices: torch.Tensor, height: int, width: int, *,
                           checked: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Hard silhouettes and the z-buffer's face index map.

    ``face_vertices`` [B, F, 3, 3] screen space (z = camera depth > 0).  Returns
    ``(silhouette [B, H, W] in the input dtype, face_index int32 [B, H, W])`` on the
    input's device; ``face_index`` is the nearest covering face (perspective-correct
    depth, ties to the lower index) or -1 for background.  The silhouette equals
    :func:`rasterize_coverage` exactly.  ``checked``: the caller has just passed these
    very faces through :func:`renderers.validation.check_face_vertices` (with any
    coordinate limit: each is at least as strict as this function's, which has none),
    so that check is not run twice; the image size is checked either way.
    """
    if not checked:  # exact for any finite input: no coordinate limit
        check_face_vertices(face_vertices, max_coordinate=None)
    h, w = _check_size(face_vertices.shape[0], height, width)
    dev = kernel_device(face_vertices.device)
    fv = face_vertices.detach().to(dev).contiguous()
    out_dev = face_vertices.device
    if dev.type == "cpu" and fv.shape[1]:  # one queued launch: key, z-buffer, maps
        key = torch.empty(fv.shape[0], h, w, dtype=torch.int64, device=dev)
        face_index = torch.empty(key.shape, dtype=torch.int32, device=dev)
        silhouette = torch.empty(key.shape, dtype=fv.dtype, device=dev)
        kernels.nearest_face_maps(fv, key, face_index, silhouette,
                                  taichi_queue.counters(3, dev), taichi_queue.slots())
        return silhouette.to(out_dev), face_index.to(out_dev)
    key = torch.full((fv.shape[0], h, w), _EMPTY_KEY, dtype=torch.int64, device=dev)
    if fv.shape[1]:
        kernels.nearest_face(fv, key)
    covered = key != _EMPTY_KEY
    face_index = torch.where(covered, key & 0xFFFFFFFF, -1).to(torch.int32)
    silhouette = covered.to(fv.dtype)
    return silhouette.to(out_dev), face_index.to(out_dev)


def scanned_pixel_count(face_vertices: torch.Tensor, height: int, width: int,
                        spans: bool = True) -> int:
    """Pixels the hard kernels visit for ``face_vertices`` [B, F, 3, 3] (the timing
    study's work count of the z-buffer renderers): per face with nonzero area, the rows
    of its bounding box grown by one pixel, each cut to the columns its edges can cover
    (:func:`kernels.scan_pixel_counts`; ``spans=False``: whole box rows)."""
    check_face_vertices(face_vertices, max_coordinate=None)
    fv = face_vertices.detach().to(kernel_device(face_vertices.device)).contiguous()
    counts = torch.zeros(fv.shape[:2], dtype=torch.int64, device=fv.device)
    if fv.shape[1]:
        kernels.scan_pixel_counts(fv, counts, *_check_size(fv.shape[0], height, width),
                                  spans)
    return int(counts.sum())


def bbox_pixel_count(face_vertices: torch.Tensor, height: int, width: int) -> int:
    """Pixels the hard kernels scan for ``face_vertices`` [B, F, 3, 3]: each face's
    bounding box grown by one pixel and clamped to the image
    (:func:`renderers.taichi_grid.pixel_box` with no radius and a slack of one pixel)."""
    return box_pixel_count(face_vertices, height, width, 0.0, slack=1)


class HardRasterize(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], H, W) -> silhouettes [B, H, W]`` (0/1, input
    dtype).  The true derivative of a step function: the gradient w.r.t.
    ``face_vertices`` is exactly zero everywhere."""

    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, height: int, width: int) -> torch.Tensor:
        out = rasterize_coverage(face_vertices, height, width)  # validates first
        ctx.input_shape = face_vertices.shape
        ctx.input_dtype = face_vertices.dtype
        ctx.input_device = face_vertices.device
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        grad = torch.zeros(ctx.input_shape, dtype=ctx.input_dtype, device=ctx.input_device)
        return grad, None, None


def rasterize_coverage_mesh(screen_vertices: torch.Tensor, faces: torch.Tensor, height: int,
                            width: int) -> torch.Tensor:
    """:func:`rasterize_coverage` of ``gather_faces(screen_vertices, faces)``, bit for
    bit: ``screen_vertices`` [B, V, 3], ``faces`` int64 [F, 3] or [B, F, 3] with indices
    checked in ``0..V-1`` (:func:`renderers.validation.check_vertices_faces`).  On the
    CPU with shared faces [F, 3] the kernel gathers each face's corners itself (no
    ``[B, F, 3, 3]`` copy) after checking the vertices instead of the gathered faces
    (:func:`renderers.validation.vertices_pass_face_checks`; the gathered faces are
    built and checked when that is not enough to decide)."""
    sv = screen_vertices.detach()
    if (faces.dim() != 2 or faces.shape[0] == 0 or sv.device.type != "cpu"
            or kernel_device(sv.device).type != "cpu"
            or not vertices_pass_face_checks(sv, faces.shape[0], max_coordinate=None)):
        return rasterize_coverage(gather_faces(sv, faces), height, width)
    h, w = _check_size(sv.shape[0], height, width)
    out = torch.zeros(sv.shape[0], h, w, dtype=sv.dtype, device=sv.device)
    kernels.coverage_indexed(sv.contiguous(), faces.to(torch.int32).contiguous(), out)
    return out


class HardMeshRasterize(torch.autograd.Function):
    """``(screen_vertices [B, V, 3], faces [F, 3] or [B, F, 3], H, W) -> silhouettes
    [B, H, W]``: :class:`HardRasterize` of the gathered faces
    (:func:`rasterize_coverage_mesh`) with its all-zero gradient given to the vertices
    directly (the same +0.0 values that scattering a zero ``[B, F, 3, 3]`` gradient
    through the gather gives, without building it)."""

    @staticmethod
    def forward(ctx, screen_vertices: torch.Tensor, faces: torch.Tensor, height: int,
                width: int) -> torch.Tensor:
        out = rasterize_coverage_mesh(screen_vertices, faces, height, width)
        ctx.input = (screen_vertices.shape, screen_vertices.dtype, screen_vertices.device)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        shape, dtype, device = ctx.input
        return torch.zeros(shape, dtype=dtype, device=device), None, None, None
