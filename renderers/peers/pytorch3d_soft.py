"""``pytorch3d_soft``: PyTorch3D's soft silhouette behind this project's interface.

``rasterize_meshes`` with a blur radius, then ``sigmoid`` blending of the K nearest
faces per pixel, as PyTorch3D's ``SoftSilhouetteShader`` does:
``S = 1 - prod_{k <= K} (1 - sigmoid(-dist_k / sigma))`` with ``dist`` PyTorch3D's
signed squared distance (< 0 inside).  The same formula as ``softras`` (Eq. 1-2) with
top-K truncation, so ``sigma`` maps 1:1.  Registered by :mod:`renderers.peers` when
``pytorch3d`` is installed; ``pytorch3d`` itself is imported on first render.
"""

from __future__ import annotations

import math

import torch

from ..base import Rasterizer
from ..options import Option
from ..soft_math import DEFAULT_SIGMA, SIGMA_OPTION
from ..validation import EPS_RANGE, check_eps, check_face_vertices, check_sigma

#: PyTorch3D's ``RasterizationSettings.faces_per_pixel`` as the adapter uses it.
DEFAULT_FACES_PER_PIXEL = 50
#: Blur radius = distance where the sigmoid falls to ``eps`` (PyTorch3D's recipe).
DEFAULT_BLUR_EPS = 1e-4
#: Largest coordinate magnitude accepted (screen units, either dtype): PyTorch3D's CPU
#: rasterizer computes areas and squared distances in float32, which overflow for
#: vertices much farther than this (NaN silhouettes at 1e30); farther geometry is
#: refused in one line (:func:`renderers.validation.check_face_vertices`).
MAX_COORDINATE = {torch.float32: 1e15, torch.float64: 1e15}


def _import_pytorch3d():
    try:  # optional dependency: imported when the renderer is first built
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes
    except Exception as exc:  # installed but broken (e.g. built for another torch)
        raise ImportError(f"pytorch3d_soft: import pytorch3d failed ({exc}); rebuild "
                          "PyTorch3D against this torch (see the README)") from exc
    return rasterize_meshes, Meshes


class PyTorch3DSoftSilhouette(Rasterizer):
    """PyTorch3D soft silhouette.

    ``image_size``: pixels, ``(H, W)`` or one int.  PyTorch3D's NDC spans [-1, 1] along
    the shorter side and has square pixels, while this project's screen space spans
    [-1, 1] along both sides: x is scaled by ``W / min(H, W)`` and y by
    ``H / min(H, W)``, so the pixel centres coincide.  ``sigma``: squared normalized
    screen units, as in ``softras``; for a non-square image the distances are
    PyTorch3D's, in units of the shorter side (square images: exactly this project's
    units, and the same function as ``softras``).  ``faces_per_pixel``: K nearest faces
    blended per pixel; ``eps``: PyTorch3D's recipe for the blur radius,
    ``blur_radius = log(1 / eps - 1) * sigma`` (where the sigmoid falls to ``eps``).

    Coordinates: this project's screen x points right, PyTorch3D's NDC +X points left,
    so x is negated; y (up) and z (depth > 0) are shared; PyTorch3D's pixel centres
    then coincide with :mod:`renderers.grid`'s.  PyTorch3D's CPU rasterizer computes in
    float32: float64 input is rounded to float32, the silhouette returned in float64.
    """

    name = "pytorch3d_soft"
    order = 70
    cost_class = "dense"  # its CPU rasterizer visits every pixel-face pair
    slow = True
    tuned_from = "softras"  # the same formula with top-K truncation
    family = "soft"
    options = (SIGMA_OPTION,
               Option("faces_per_pixel", int, DEFAULT_FACES_PER_PIXEL,
                      "K nearest faces blended per pixel", low=1),
               Option("eps", float, DEFAULT_BLUR_EPS, "blur radius: where the sigmoid is eps",
                      low=EPS_RANGE[0], high=EPS_RANGE[1], low_open=True,
                      high_open=True))
    sharpness = "sigma"
    max_coordinate = MAX_COORDINATE
    forward_model = "S = 1 - prod over the K nearest faces of (1 - sigmoid(-d^2 / sigma))"
    gradient_rule = "exact gradient of the soft forward (PyTorch3D's CUDA/C++ backward)"
    paper = "Ravi et al. 2020, Accelerating 3D Deep Learning with PyTorch3D (arXiv)"
    cost = "B*H*W*K blended pixel-face pairs"

    def __init__(self, image_size=64, sigma: float = DEFAULT_SIGMA,
                 faces_per_pixel: int = DEFAULT_FACES_PER_PIXEL,
                 eps: float = DEFAULT_BLUR_EPS) -> None:
        super().__init__(image_size)
        self.sigma = check_sigma(sigma)
        self.faces_per_pixel = self.check_option("faces_per_pixel", faces_per_pixel)
        self.eps = check_eps(eps)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> soft silhouettes ``[B, H, W]``."""
        check_face_vertices(face_vertices, MAX_COORDINATE, "pytorch3d_soft.MAX_COORDINATE")
        rasterize_meshes, Meshes = _import_pytorch3d()
        nb, nf = face_vertices.shape[:2]
        if nb == 0 or nf == 0:  # nothing to draw: zeros, on the input's graph
            return face_vertices.sum() * 0 + face_vertices.new_zeros(nb, self.height,
                                                                      self.width)
        short = min(self.height, self.width)
        scale = face_vertices.new_tensor([-self.width / short, self.height / short, 1.0])
        # x negated: PyTorch3D's +X points left.  Its CPU rasterizer takes float32 only:
        # float64 input is rounded to float32 and the silhouette cast back.
        verts = (face_vertices.reshape(nb, nf * 3, 3) * scale).float()
        faces = torch.arange(nf * 3, device=verts.device).reshape(nf, 3)
        meshes = Meshes(verts=list(verts), faces=[faces] * nb)
        blur = math.log(1.0 / self.eps - 1.0) * self.sigma
        pix_to_face, _, _, dists = rasterize_meshes(
            meshes, image_size=(self.height, self.width), blur_radius=blur,
            faces_per_pixel=self.faces_per_pixel)
        # dists: signed squared distances (< 0 inside); empty slots have pix_to_face -1.
        prob = torch.sigmoid(-dists / self.sigma) * (pix_to_face >= 0)
        return (1.0 - torch.prod(1.0 - prob, dim=-1)).to(face_vertices.dtype)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """``B * H * W * K`` blended pairs."""
        return float(face_vertices.shape[0] * self.height * self.width * self.faces_per_pixel)
