"""``edgegrad``: rasterized edge gradients (Pidhorskyi et al. 2024, DRTK's
``edge_grad_estimator``) on the hard silhouette.

Forward: exactly the ``hard`` silhouette (z-buffered, identical values).

Backward, per pair of neighbouring pixels ``a``, ``b`` (horizontal: right neighbour;
vertical: the pixel below) on a discontinuity: with ``g`` = dL/dS,
``grad_dot = (S_b - S_a) * (g_a + g_b) / 2`` and, for the covered pixel ``c`` of the pair
(face ``f``), ``dL/d p_c = -grad_dot`` along the pair's axis, where ``p_c`` is the
pixel-space position of the surface point seen at ``c``; it reaches face ``f``'s
vertices through the (detached) perspective-correct barycentric weights of ``c``'s
centre, ``dL/dv_k += w_k dL/dp_c``, and screen units through
``d column / dx = W / 2``, ``d row / dy = -H / 2``.  Depth gets no gradient.

DRTK's rule also handles pairs of two covered pixels (overhangs and intersections
between different triangles); for a silhouette both pixels are 1, ``grad_dot`` is 0 and
those branches vanish, so only covered/empty pairs are evaluated here.

Source: Pidhorskyi et al. 2024, "Rasterized Edge Gradients: Handling Discontinuities
Differentiably" (ECCV); DRTK ``drtk/edge_grad_estimator.py`` and
``src/edge_grad/edge_grad_kernel*.{cu,cpp}``.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ..base import Rasterizer, gather_faces, register
from ..hard import rasterize_nearest_face, scanned_pixel_count
from ..taichi_runtime import kernel_device
from ..validation import check_face_vertices
from . import kernels


class EdgeGradRasterize(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], H, W) -> silhouettes [B, H, W]`` (0/1, input
    dtype) with DRTK's estimated gradient w.r.t. the x, y of ``face_vertices``."""

    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, height: int, width: int) -> torch.Tensor:
        dev = kernel_device(face_vertices.device)
        fv = face_vertices.detach().to(dev).contiguous()
        sil, face_index = rasterize_nearest_face(fv, height, width)
        ctx.save_for_backward(fv, face_index)
        ctx.out = (face_vertices.device, face_vertices.dtype)
        return sil.to(face_vertices.device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        fv, face_index = ctx.saved_tensors
        out_device, dtype = ctx.out
        return edge_gradient(fv, face_index, grad_output).to(out_device), None, None


def edge_gradient(fv: torch.Tensor, face_index: torch.Tensor, grad_output: torch.Tensor,
                  faces: torch.Tensor | None = None, num_vertices: int = 0) -> torch.Tensor:
    """DRTK's estimated gradient in ``fv``'s dtype, on the Taichi device: w.r.t. ``fv``
    [B, F, 3, 3] (z column 0), or, with ``faces`` int64 [F, 3] (CPU only), w.r.t. the
    vertices [B, V, 3] (``V = num_vertices``) that ``fv`` was gathered from, bit for bit
    what ``gather_faces``' backward makes of the former.  ``fv`` float32/64 and
    ``face_index`` int32 [B, H, W] on the Taichi device; ``grad_output`` [B, H, W] =
    dL/d silhouette (any device; read in float64).  On the CPU the kernel's per-image
    tasks zero, accumulate (float64) and finish (round / scatter) the rows themselves
    (:func:`kernels.gradient_buffers`); elsewhere a zeroed float64 buffer, then a cast."""
    if not fv.shape[1]:
        shape = (fv.shape[0], num_vertices, 3) if faces is not None else fv.shape
        return torch.zeros(shape, dtype=fv.dtype, device=fv.device)
    buffers = kernels.gradient_buffers(fv, faces, num_vertices)
    g = grad_output.detach().to(fv.device).contiguous()
    kernels.edge_gradient(fv, face_index, g, *buffers)
    return kernels.gradient_result(buffers)


class EdgeGradMeshRasterize(torch.autograd.Function):
    """``(screen_vertices [B, V, 3], faces int64 [F, 3], H, W) -> silhouettes [B, H,
    W]`` on the CPU: :class:`EdgeGradRasterize` of ``gather_faces(screen_vertices,
    faces)``, its backward's face gradient added into the vertices by the kernel's
    tasks (the same bits as the gather's backward, without its serial ``index_add_``
    and transposes)."""

    @staticmethod
    def forward(ctx, screen_vertices: torch.Tensor, faces: torch.Tensor, height: int,
                width: int) -> torch.Tensor:
        fv = gather_faces(screen_vertices.detach(), faces).contiguous()
        check_face_vertices(fv)
        sil, face_index = rasterize_nearest_face(fv, height, width, checked=True)
        ctx.save_for_backward(fv, face_index, faces)
        ctx.num_vertices = screen_vertices.shape[1]
        return sil

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        fv, face_index, faces = ctx.saved_tensors
        return (edge_gradient(fv, face_index, grad_output, faces, ctx.num_vertices), None,
                None, None)


@register("edgegrad")
class EdgeGradRasterizer(Rasterizer):
    """Hard silhouettes with DRTK's edge-gradient estimator (module docstring).
    ``image_size``: pixels, int or ``(H, W)``; no other options."""

    name = "edgegrad"
    order = 60
    family = "estimator"
    options = ()
    sharpness = None
    forward_model = "hard silhouette (z-buffered point sampling at pixel centres)"
    gradient_rule = ("at covered/empty neighbour pairs: -(S_b - S_a) (g_a + g_b) / 2 on the "
                     "covered pixel's surface point, to vertices by barycentric weights")
    paper = ("Pidhorskyi et al. 2024, Rasterized Edge Gradients: Handling Discontinuities "
             "Differentiably (ECCV); DRTK edge_grad_estimator")
    cost = "hard scan pixels + 2 neighbour pairs per pixel (B*H*W*2)"

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> silhouettes ``[B, H, W]`` in {0, 1}
        (input dtype and device), with the estimated gradient."""
        check_face_vertices(face_vertices)
        return EdgeGradRasterize.apply(face_vertices, self.height, self.width)

    def rasterize_mesh(self, screen_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """:meth:`rasterize` of the gathered faces, bit for bit; on the CPU with shared
        faces ``[F, 3]`` the backward's kernel adds the gradient into
        ``screen_vertices`` ``[B, V, 3]`` itself (:class:`EdgeGradMeshRasterize`)."""
        if (faces.dim() != 2 or screen_vertices.device.type != "cpu"
                or kernel_device(screen_vertices.device).type != "cpu"):
            return self.rasterize(gather_faces(screen_vertices, faces))
        return EdgeGradMeshRasterize.apply(screen_vertices, faces, self.height, self.width)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Hard-scan pixels plus the two neighbour pairs of every pixel."""
        nb = face_vertices.shape[0]
        return float(scanned_pixel_count(face_vertices, self.height, self.width)
                     + 2 * nb * self.height * self.width)


__all__ = ["EdgeGradMeshRasterize", "EdgeGradRasterize", "EdgeGradRasterizer", "edge_gradient"]
