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
    int32 [P], H, W) -> dist2 [P]`` (input dtype): squared distance from each pair's
    pixel centre to its face's boundary (normalized screen units).  The backward is
    Taichi's reverse mode of :func:`kernels.pair_dist2` into one gradient row per pair,
    summed per face in a fixed order (:func:`kernels.sum_pair_grads`): bit-reproducible
    on the CPU."""

    @staticmethod
    def forward(ctx, fv, pair_face, pixel, height: int, width: int):
        nb, nf = fv.shape[:2]
        # each pair's own copy of its face's (x0, y0, x1, y1, x2, y2)
        coords = fv.detach()[..., :2].reshape(nb * nf, 6).index_select(
            0, pair_face.long()).contiguous()
        out = torch.zeros(pair_face.shape[0], dtype=fv.dtype, device=fv.device)
        if pair_face.numel():
            kernels.pair_dist2(coords, pixel, height, width, out)
        ctx.save_for_backward(coords, pair_face, pixel)
        ctx.size = (height, width)
        ctx.fv_shape = fv.shape
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        coords, pair_face, pixel = ctx.saved_tensors
        fv_grad = torch.zeros(ctx.fv_shape, dtype=coords.dtype, device=coords.device)
        if pair_face.numel():
            coords = coords.detach().requires_grad_(True)
            coords.grad = torch.zeros_like(coords)
            out = torch.zeros(pair_face.shape[0], dtype=coords.dtype, device=coords.device,
                              requires_grad=True)
            out.grad = grad_out.to(coords.dtype).contiguous()
            kernels.pair_dist2.grad(coords, pixel, *ctx.size, out)
            faces = pair_face.long()
            order = torch.sort(faces, stable=True).indices
            count = torch.bincount(faces, minlength=ctx.fv_shape[0] * ctx.fv_shape[1])
            start = torch.cumsum(count, 0) - count
            kernels.sum_pair_grads(coords.grad, order, start, count, fv_grad)
        return fv_grad, None, None, None, None


def selected_pairs(fv: torch.Tensor, covered: torch.Tensor, margin: float,
                   max_faces: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The pixel-face pairs of the soft mask: ``(pair_face int32 [K], pixel int32 [K],
    candidates)``.  ``fv`` [B, F, 3, 3] on the Taichi device; ``covered`` bool [B, H, W].
    Per uncovered pixel, the first ``max_faces`` faces (ascending index) whose box grown
    by ``margin`` holds the pixel centre (half-open, as Kaolin)."""
    height, width = covered.shape[-2:]
    bounds, _, offsets, total = pair_offsets(fv, height, width, margin)
    empty = torch.zeros(0, dtype=torch.int32, device=fv.device)
    if not total:
        return empty, empty, 0
    pixel = torch.empty(total, dtype=torch.int32, device=fv.device)  # the kernel writes all
    keep = torch.empty(total, dtype=torch.int32, device=fv.device)
    flat_covered = covered.reshape(-1).contiguous().view(torch.uint8)
    kernels.pair_pixels(fv, bounds, offsets, margin, height, width, flat_covered, pixel, keep)
    kept = torch.nonzero(keep).squeeze(1)
    # the face of pair p: the last face whose first pair is at or before p (empty faces
    # share their successor's offset and come before it)
    face = (torch.searchsorted(offsets, kept, right=True) - 1).to(torch.int32)
    pix = pixel.index_select(0, kept)
    # pairs come face by face; a stable sort by pixel keeps each pixel's faces in order
    pix, order = torch.sort(pix, stable=True)
    face = face[order]
    _, counts = torch.unique_consecutive(pix, return_counts=True)
    start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    rank = torch.arange(pix.numel(), device=pix.device) - start
    first = torch.nonzero(rank < max_faces).squeeze(1)
    return (face.index_select(0, first), pix.index_select(0, first),
            total)


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
    face, pix, _ = selected_pairs(fv.detach().contiguous(), covered, margin, max_faces)
    d2 = PairDist2.apply(fv, face, pix, height, width)
    tiny = torch.finfo(fv.dtype).tiny
    log_keep = torch.log(-torch.expm1(-(d2 / sigma).clamp(min=tiny)))  # log(1 - exp(-z))
    acc = torch.zeros(covered.numel(), dtype=fv.dtype, device=dev).index_add(
        0, pix.long(), log_keep)
    mask = torch.where(covered.reshape(-1), torch.ones_like(acc), 0.0 - torch.expm1(acc))
    return mask.reshape(covered.shape).to(out_device)
