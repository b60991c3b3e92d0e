"""``torch.autograd.Function`` of N3MR: hard z-buffered forward, approximate backward.

The forward is :func:`renderers.hard.rasterize_nearest_face` (silhouette identical to
the ``hard`` renderer, plus the face index map the backward needs); the backward is
the Taichi kernel :func:`renderers.n3mr.kernels.approximate_gradient`.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .. import taichi_queue
from ..grid import image_hw
from ..hard import rasterize_nearest_face
from ..options import Option
from ..taichi_runtime import kernel_device
from ..validation import check_face_vertices, check_image_batch, check_real
from . import kernels

#: Kato et al.'s default for the displacement offset (screen units), as in the
#: original chainer implementation (the PyTorch port uses 1e-4).
DEFAULT_EPS = 1e-3
#: The ``eps`` option of ``n3mr``.
EPS_OPTION = Option("eps", float, DEFAULT_EPS,
                    "screen units added to every vertex displacement in the backward",
                    low=0.0, low_open=True)


def check_displacement_eps(eps: float) -> float:
    """``eps``: finite float > 0, screen units added to every vertex displacement."""
    e = check_real("eps", eps)
    if e <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps}")
    return e


def _check_maps(nb: int, nf: int, silhouette, face_index, grad_silhouette) -> None:
    """The per-pixel maps of :func:`approximate_gradient`: tensors of one shape
    ``[B, H, W]``; ``face_index`` integer in ``-1..F-1`` (the kernel reads faces by it)."""
    maps = (("silhouette", silhouette), ("face_index", face_index),
            ("grad_silhouette", grad_silhouette))
    for name, t in maps:
        if not torch.is_tensor(t):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    shape = tuple(silhouette.shape)
    if len(shape) != 3 or shape[0] != nb:
        raise ValueError(f"silhouette must have shape [{nb}, H, W], got {shape}")
    image_hw(shape[1:])
    check_image_batch(*shape)
    for name, t in maps[1:]:
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have the silhouette's shape {shape}, "
                             f"got {tuple(t.shape)}")
    if face_index.dtype.is_floating_point or face_index.dtype == torch.bool or \
            face_index.is_complex():
        raise TypeError(f"face_index must be an integer tensor, got {face_index.dtype}")
    if face_index.numel() and (int(face_index.min()) < -1 or int(face_index.max()) >= nf):
        raise IndexError(f"face_index must lie in -1..{nf - 1} (F = {nf} faces), got "
                         f"{int(face_index.min())}..{int(face_index.max())}")


def approximate_gradient(face_vertices: torch.Tensor, silhouette: torch.Tensor,
                         face_index: torch.Tensor, grad_silhouette: torch.Tensor,
                         eps: float = DEFAULT_EPS) -> torch.Tensor:
    """N3MR's ``dL/d face_vertices`` [B, F, 3, 3] (z column zero), input dtype and device.

    ``face_vertices`` [B, F, 3, 3] screen space; ``silhouette`` [B, H, W] and
    ``face_index`` int32 [B, H, W] from :func:`renderers.hard.rasterize_nearest_face`
    of the same faces; ``grad_silhouette`` [B, H, W] = dL/d silhouette; ``eps`` > 0 in
    screen units (see :func:`renderers.n3mr.kernels.approximate_gradient`).
    """
    eps = check_displacement_eps(eps)
    check_face_vertices(face_vertices, max_coordinate=None)
    _check_maps(*face_vertices.shape[:2], silhouette, face_index, grad_silhouette)
    return _unchecked_gradient(face_vertices, silhouette, face_index, grad_silhouette, eps,
                               jumps=False)


def _unchecked_gradient(face_vertices: torch.Tensor, silhouette: torch.Tensor,
                        face_index: torch.Tensor, grad_silhouette: torch.Tensor,
                        eps: float, jumps: bool) -> torch.Tensor:
    """:func:`approximate_gradient` without its checks: for :class:`N3MRRasterize`'s
    backward, whose face vertices were validated by its forward
    (:func:`renderers.hard.rasterize_nearest_face`) and whose maps that forward made.
    ``jumps``: ``silhouette`` is ``face_index >= 0`` (binary, as that backward makes
    it), so the out-scans may skip the pixels that add nothing (the jump table of
    :func:`kernels.out_jumps`; bit-identical sums)."""
    nb, nf = face_vertices.shape[:2]
    dev = kernel_device(face_vertices.device)
    grad = torch.empty(nb, nf, 3, 3, dtype=torch.float64, device=dev)  # all written
    if nf:
        fv = face_vertices.detach().to(dev).contiguous()
        alpha = silhouette.detach().to(dev, fv.dtype).contiguous()
        grad_alpha = grad_silhouette.detach().to(dev, fv.dtype).contiguous()
        nxt = torch.empty(1, 1, 1, 1, dtype=torch.int32, device=dev)
        if jumps:
            nxt = torch.empty(nb, kernels.JUMP_DIRECTIONS, *alpha.shape[1:],
                              dtype=torch.int32, device=dev)
            kernels.out_jumps(alpha, grad_alpha, nxt)
        kernels.approximate_gradient(fv, face_index.to(dev, torch.int32).contiguous(),
                                     alpha, grad_alpha, grad, eps, nxt, jumps,
                                     taichi_queue.counters(1, dev), taichi_queue.slots(),
                                     dev.type == "cpu")
    return grad.to(device=face_vertices.device, dtype=face_vertices.dtype)


class N3MRRasterize(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], H, W, eps) -> silhouettes [B, H, W]`` (0/1, input
    dtype), with Kato et al.'s approximate gradient w.r.t. the x, y of
    ``face_vertices`` (z gets zero)."""

    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, height: int, width: int,
                eps: float = DEFAULT_EPS) -> torch.Tensor:
        eps = check_displacement_eps(eps)
        silhouette, face_index = rasterize_nearest_face(face_vertices, height, width)
        ctx.save_for_backward(face_vertices, face_index)
        ctx.eps = eps
        return silhouette

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        face_vertices, face_index = ctx.saved_tensors
        silhouette = (face_index >= 0).to(face_vertices.dtype)
        grad = _unchecked_gradient(face_vertices, silhouette, face_index, grad_output, ctx.eps,
                                   jumps=True)
        return grad, None, None, None
