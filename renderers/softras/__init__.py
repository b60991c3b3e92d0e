"""``softras``: Soft Rasterizer silhouettes as Taichi kernels with hand-written adjoints
(see :mod:`renderers.softras.kernels`).

Forward is exactly Eq. 1-2 of the paper (see :mod:`renderers.soft_math`): per
pixel-face pair ``D = sigmoid(delta * d^2 / sigma)`` with ``d`` the distance from the
pixel centre to the nearest triangle edge in normalized screen units, and
``S = 1 - prod_f (1 - D_f)``.  Pairs with ``D <= eps`` outside the triangle are culled
(bounding box grown by the cull radius, each row cut to the span inside the three edge
lines shifted out by that radius, then a distance test), so the cost grows with the
pairs near each face, not with pixels x faces.

Precision: the geometry is evaluated relative to each edge's line (per-face setup in
float64, see :mod:`renderers.soft_math`), so the result for float32 input equals the
float64 evaluation of the same values to a few 1e-6 per pixel, far vertices included
(the tests hold it to 1e-3).
``precision`` picks the dtype of the per-pair arithmetic: ``"auto"`` (default) = the
input's dtype (float32 tensors compute in float32, on the CPU and on CUDA; float64
tensors ask for float64); ``"float32"`` or ``"float64"`` force it.
The output always has the input's dtype.

Reproducibility: on the CPU the forward sums each pixel's faces in face order in one
thread (one task per band of rows of an image) and the backward each face's gradient
in one thread, so repeated calls agree bit for bit, whatever the thread count.  On
CUDA the per-pixel sums of the forward are parallel atomic adds, so their rounding
follows the thread order and repeated calls may differ in the last bits; long
optimisations amplify this (see the README, "Seeds and reproducibility").
"""

from __future__ import annotations

import torch

from ..base import Rasterizer, gather_faces, register
from ..face_boxes import box_pixel_count
from ..options import Option
from ..soft_math import (
    DEFAULT_EPS,
    DEFAULT_SIGMA,
    EPS_OPTION,
    SIGMA_OPTION,
    SOFTRAS_FORWARD,
    SOFTRAS_PAPER,
    cull_dist2,
)
from ..taichi_runtime import kernel_device
from ..validation import (
    check_eps,
    check_face_vertices,
    check_sigma,
    vertices_pass_face_checks,
)
from .function import (
    BACKWARDS,
    PRECISIONS,
    SoftLogSum,
    autodiff_log_sum,
    check_precision,
    compute_dtype,
    pair_count,
)

#: The ``precision`` option: dtype of the per-pair arithmetic.
PRECISION_OPTION = Option("precision", str, "auto",
                          "per-pair arithmetic: auto (the input's dtype), float32 or "
                          "float64", choices=PRECISIONS)
#: The ``backward`` option: hand-written adjoints or Taichi's reverse mode.
BACKWARD_OPTION = Option("backward", str, "adjoint",
                         "gradient: adjoint (hand-written adjoint kernels) or autodiff "
                         "(Taichi's reverse mode of the same forward; slower, for "
                         "comparison)", choices=BACKWARDS)


@register("softras")
class SoftRas(Rasterizer):
    """SoftRas silhouette rasterizer (Taichi).

    ``image_size``: pixels, int or ``(H, W)``; ``sigma`` > 0: sharpness in squared
    normalized screen units (paper: 3e-5); ``eps`` in (0, 0.5): culling threshold on D;
    ``precision``: ``"auto"``, ``"float32"`` or ``"float64"``, the dtype of the per-pair
    arithmetic (module docstring); ``backward``: ``"adjoint"`` (the hand-written
    adjoint kernels) or ``"autodiff"`` (Taichi's reverse mode of the same forward:
    slower and not bit-reproducible; there to measure what the adjoints buy).
    """

    name = "softras"
    order = 30
    family = "soft"
    options = (SIGMA_OPTION, EPS_OPTION, PRECISION_OPTION, BACKWARD_OPTION)
    sharpness = "sigma"
    forward_model = SOFTRAS_FORWARD
    gradient_rule = "exact gradient of the soft forward (hand-written adjoint kernels)"
    paper = SOFTRAS_PAPER
    cost = ("candidate pairs: pixels in each face's box grown by the cull radius, each "
            "row cut to the face's edge lines shifted out by that radius")

    def __init__(self, image_size=64, sigma: float = DEFAULT_SIGMA,
                 eps: float = DEFAULT_EPS, precision: str = "auto",
                 backward: str = "adjoint") -> None:
        super().__init__(image_size)
        self.sigma = check_sigma(sigma)
        self.eps = check_eps(eps)
        self.precision = check_precision(precision)
        self.backward = BACKWARD_OPTION.validate(backward)

    def log_transmittance(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``sum_f log(1 - D_f)`` per pixel, ``[B, H, W]`` (<= 0)."""
        check_face_vertices(face_vertices)
        dtype = compute_dtype(self.precision, face_vertices.dtype,
                              kernel_device(face_vertices.device))
        if self.backward == "autodiff":
            return autodiff_log_sum(face_vertices, self.height, self.width, self.sigma,
                                    cull_dist2(self.sigma, self.eps), dtype)
        return SoftLogSum.apply(face_vertices, self.height, self.width, self.sigma,
                                cull_dist2(self.sigma, self.eps), dtype)

    def rasterize_mesh(self, screen_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """:meth:`rasterize` of the gathered faces, bit for bit.  On the CPU, with shared
        faces ``[F, 3]`` and the adjoint backward, the kernels gather the faces
        themselves (:class:`~renderers.softras.function.SoftLogSum` with ``faces``):
        no ``[B, F, 3, 3]`` copy before the launch and none transposed after it; the
        input checks run on the ``[B, V, 3]`` vertices
        (:func:`~renderers.validation.vertices_pass_face_checks`; the gathered faces
        are checked when that is not enough to decide)."""
        if (self.backward != "adjoint" or faces.dim() != 2 or faces.shape[0] == 0
                or screen_vertices.device.type != "cpu"
                or kernel_device(screen_vertices.device).type != "cpu"
                or not vertices_pass_face_checks(screen_vertices, faces.shape[0])):
            return self.rasterize(gather_faces(screen_vertices, faces))
        dtype = compute_dtype(self.precision, screen_vertices.dtype,
                              kernel_device(screen_vertices.device))
        acc = SoftLogSum.apply(screen_vertices, self.height, self.width, self.sigma,
                               cull_dist2(self.sigma, self.eps), dtype, faces)
        return 1.0 - torch.exp(acc)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> int:
        """Pixel-face pairs one forward evaluates (pixels of the grown bounding boxes'
        rows within each face's edge lines shifted out by the cull radius; with
        ``backward="autodiff"`` every pixel of the grown boxes)."""
        check_face_vertices(face_vertices)
        radius = cull_dist2(self.sigma, self.eps) ** 0.5
        if self.backward == "autodiff":  # every pixel of every grown box is listed
            return box_pixel_count(face_vertices, self.height, self.width, radius)
        dtype = compute_dtype(self.precision, face_vertices.dtype,
                              kernel_device(face_vertices.device))
        return pair_count(face_vertices, self.height, self.width,
                          radius, dtype)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> soft silhouettes ``[B, H, W]`` in [0, 1]."""
        return 1.0 - torch.exp(self.log_transmittance(face_vertices))

    def __repr__(self) -> str:
        return (f"SoftRas(image_size={self.image_size}, sigma={self.sigma}, eps={self.eps}, "
                f"precision={self.precision!r}, backward={self.backward!r})")
