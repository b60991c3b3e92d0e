"""``torch.autograd.Function`` around the SoftRas Taichi kernels; the backward pass is
Taichi's reverse-mode autodiff of :func:`renderers.softras.kernels.soft_log_sum`."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ..taichi_runtime import kernel_device
from . import kernels

_INT32_MAX = 2**31 - 1


def candidate_pairs(fv: torch.Tensor, height: int, width: int, radius: float):
    """Candidate pixel-face pairs of faces ``fv`` [B, F, 3, 3] (screen space).

    Returns ``(bounds int32 [B, F, 6], pair_face int32 [P], face_offset int32 [B*F])``
    (see :mod:`renderers.softras.kernels`); ``P`` = pixels in all grown bounding boxes.
    """
    nb, nf = fv.shape[:2]
    bounds = torch.zeros(nb, nf, 6, dtype=torch.int32, device=fv.device)
    kernels.face_pixel_bounds(fv, bounds, height, width, radius)
    counts = bounds[..., 4].reshape(-1).to(torch.int64)
    total = int(counts.sum())
    if total > _INT32_MAX:
        raise ValueError(
            f"{total} candidate pixel-face pairs exceed the int32 limit; render fewer images "
            "per batch, smaller images or a smaller sigma"
        )
    offsets = torch.cumsum(counts, 0) - counts
    pair_face = torch.repeat_interleave(
        torch.arange(nb * nf, dtype=torch.int32, device=fv.device), counts, output_size=total
    )
    return bounds, pair_face, offsets.to(torch.int32)


class SoftLogSum(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], H, W, sigma, max_d2) -> acc [B, H, W]`` with
    ``acc = sum_f log(1 - D_f)`` (culled pairs contribute 0); dtype of the input."""

    @staticmethod
    def forward(ctx, face_vertices, height: int, width: int, sigma: float, max_d2: float):
        out_device = face_vertices.device
        dev = kernel_device(out_device)
        fv = face_vertices.detach().to(dev).contiguous()
        nb, nf = fv.shape[:2]
        acc = torch.zeros(nb, height, width, dtype=fv.dtype, device=dev)
        if nf:
            pairs = candidate_pairs(fv, height, width, max_d2 ** 0.5)
            if pairs[1].numel():
                kernels.soft_log_sum(fv, *pairs, acc, 1.0 / sigma, max_d2)
        else:
            pairs = ()
        ctx.save_for_backward(fv, *pairs)
        ctx.params = (1.0 / sigma, max_d2, out_device, height, width)
        ctx.num_pairs = int(pairs[1].numel()) if pairs else 0
        return acc.to(out_device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_acc):
        fv, *pairs = ctx.saved_tensors
        inv_sigma, max_d2, out_device, height, width = ctx.params
        fv = fv.detach().requires_grad_(True)
        fv.grad = torch.zeros_like(fv)
        if ctx.num_pairs:
            acc = torch.zeros(fv.shape[0], height, width, dtype=fv.dtype, device=fv.device,
                              requires_grad=True)
            acc.grad = grad_acc.to(fv.device, fv.dtype).contiguous()
            kernels.soft_log_sum.grad(fv, *pairs, acc, inv_sigma, max_d2)
        return fv.grad.to(out_device), None, None, None, None
