"""DIB-R soft mask in torch around the Taichi kernels of :mod:`renderers.dibr.kernels`.

:func:`dibr_soft_mask` selects, per uncovered pixel, the first ``max_faces`` faces (in
face order) whose grown box holds it, as Kaolin's CUDA kernel does; the squared
distances are :class:`PairDist2` (Taichi kernel, Taichi autodiff backward); the product
``1 - prod(1 - exp(-d^2 / sigma))`` is torch (autograd).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ..face_boxes import pair_offsets
from ..hard import rasterize_nearest_face
from ..taichi_runtime import kernel_device
from . import kernels


class PairDist2(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3] on the Taichi device, pair_face int32 [P], pixel
    int32 [P], H, W, face_order=None) -> dist2 [P]`` (input dtype; ``face_order`` int64
    [P]: ``torch.sort(pair_face, stable=True).indices`` if known, else the backward
    sorts): squared distance from each pair's
    pixel centre to its face's boundary (normalized screen units).  The backward is
    Taichi's reverse mode of :func:`kernels.pair_dist2` into one gradient row per pair,
    summed per face in a fixed order (:func:`kernels.sum_pair_grads`): bit-reproducible
    on the CPU."""

    @staticmethod
    def forward(ctx, fv, pair_face, pixel, height: int, width: int, face_order=None):
        nb, nf = fv.shape[:2]
        # each pair's own copy of its face's (x0, y0, x1, y1, x2, y2)
        coords = fv.detach()[..., :2].reshape(nb * nf, 6).index_select(
            0, pair_face.long()).contiguous()
        out = torch.zeros(pair_face.shape[0], dtype=fv.dtype, device=fv.device)
        if pair_face.numel():
            kernels.pair_dist2(coords, pixel, height, width, out)
        ctx.save_for_backward(coords, pair_face, pixel, face_order)
        ctx.size = (height, width)
        ctx.fv_shape = fv.shape
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        coords, pair_face, pixel, order = ctx.saved_tensors
        fv_grad = torch.zeros(ctx.fv_shape, dtype=coords.dtype, device=coords.device)
        if pair_face.numel():
            coords = coords.detach().requires_grad_(True)
            coords.grad = torch.zeros_like(coords)
            out = torch.zeros(pair_face.shape[0], dtype=coords.dtype, device=coords.device,
                              requires_grad=True)
            out.grad = grad_out.to(coords.dtype).contiguous()
            kernels.pair_dist2.grad(coords, pixel, *ctx.size, out)
            faces = pair_face.long()
            if order is None:
                order = torch.sort(faces, stable=True).indices
            count = torch.bincount(faces, minlength=ctx.fv_shape[0] * ctx.fv_shape[1])
            start = torch.cumsum(count, 0) - count
            kernels.sum_pair_grads(coords.grad, order, start, count, fv_grad)
        return fv_grad, None, None, None, None, None


def selected_pairs(fv: torch.Tensor, covered: torch.Tensor, margin: float,
                   max_faces: int, with_face_order: bool = False) -> tuple:
    """The pixel-face pairs of the soft mask: ``(pair_face int32 [K], pixel int32 [K],
    candidates)``, pairs sorted by pixel (each pixel's faces ascending); with
    ``with_face_order`` also ``face_order`` int64 [K], equal to
    ``torch.sort(pair_face, stable=True).indices`` (found without a sort).  ``fv``
    [B, F, 3, 3] on the Taichi device; ``covered`` bool [B, H, W].  Per uncovered pixel,
    the first ``max_faces`` faces (ascending index) whose box grown by ``margin`` holds
    the pixel centre (half-open, as Kaolin)."""
    height, width = covered.shape[-2:]
    bounds, counts, offsets, total = pair_offsets(fv, height, width, margin)
    empty = torch.zeros(0, dtype=torch.int32, device=fv.device)
    if not total:
        return (empty, empty, 0, empty.long()) if with_face_order else (empty, empty, 0)
    pixel = torch.empty(total, dtype=torch.int32, device=fv.device)  # the kernel writes all
    keep = torch.empty(total, dtype=torch.int32, device=fv.device)
    kept = torch.empty(counts.shape, dtype=torch.int64, device=fv.device)
    flat_covered = covered.reshape(-1).contiguous().view(torch.uint8)
    kernels.pair_pixels(fv, bounds, offsets, margin, height, width, flat_covered, pixel, keep,
                        kept)
    # the kept pairs in order, with their faces (a kernel, not nonzero + searchsorted)
    kept_offset = torch.cumsum(kept, 0) - kept
    pix = torch.empty(int(kept.sum()), dtype=torch.int32, device=fv.device)
    face = torch.empty(pix.shape, dtype=torch.int32, device=fv.device)
    kernels.compact_pairs(offsets, counts, kept_offset, pixel, keep, pix, face)
    # pairs come face by face; a stable sort by pixel keeps each pixel's faces in order
    pix, order = torch.sort(pix, stable=True)
    face = face[order]
    _, counts = torch.unique_consecutive(pix, return_counts=True)
    start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    rank = torch.arange(pix.numel(), device=pix.device) - start
    chosen = rank < max_faces
    first = torch.nonzero(chosen).squeeze(1)
    picked = (face.index_select(0, first), pix.index_select(0, first), total)
    if not with_face_order:
        return picked
    # the chosen pairs' positions in face-major order (the compaction's): a face's pairs
    # have increasing pixels, hence increasing positions, so this is the stable sort by
    # face of the chosen list, without a sort
    sorted_pos = torch.empty_like(order)
    sorted_pos[order] = torch.arange(order.numel(), device=order.device)
    position = torch.cumsum(chosen, 0) - 1  # sorted position -> index among the chosen
    return (*picked, position[sorted_pos[chosen[sorted_pos]]])


def dibr_soft_mask(face_vertices: torch.Tensor, height: int, width: int, sigma: float,
                   margin: float, max_faces: int) -> torch.Tensor:
    """Soft masks ``[B, H, W]`` (input dtype and device), differentiable w.r.t. x, y of
    ``face_vertices`` [B, F, 3, 3] (validated by the caller): 1 where a face covers the
    pixel centre, else ``1 - prod_k (1 - exp(-d_k^2 / sigma))`` over the selected faces
    (see :func:`selected_pairs`)."""
    out_device = face_vertices.device
    dev = kernel_device(out_device)
    fv = face_vertices.to(dev)
    sil, _ = rasterize_nearest_face(fv.detach(), height, width)
    covered = sil > 0.5
    face, pix, _, face_order = selected_pairs(fv.detach().contiguous(), covered, margin,
                                              max_faces, with_face_order=True)
    d2 = PairDist2.apply(fv, face, pix, height, width, face_order)
    tiny = torch.finfo(fv.dtype).tiny
    log_keep = torch.log(-torch.expm1(-(d2 / sigma).clamp(min=tiny)))  # log(1 - exp(-z))
    acc = torch.zeros(covered.numel(), dtype=fv.dtype, device=dev).index_add(
        0, pix.long(), log_keep)
    mask = torch.where(covered.reshape(-1), torch.ones_like(acc), 0.0 - torch.expm1(acc))
    return mask.reshape(covered.shape).to(out_device)
