"""``mitsuba``: Mitsuba 3's physically based silhouette behind this project's interface.

Forward: the pixel coverage, estimated by Monte Carlo.  The faces are an emitting mesh
(radiance 1, seen from either side) on a black background; a pixel's value is the radiance
averaged over its square (box reconstruction filter) with ``spp`` independent samples
per pixel, an unbiased estimate of the fraction of the pixel covered by the union of the
faces (standard deviation ``sqrt(c (1 - c) / spp)`` at coverage ``c``).

Backward: Mitsuba's projective-sampling integrator (``prb_projective``, Zhang et al.
2023) samples points on the primarily visible silhouette edges (``spp`` samples per
pixel, edge occlusion tested by ray tracing) and splats ``radiance difference x normal
motion / pdf`` into the pixels: an unbiased estimate of the gradient of the coverage
(Li et al. 2018's edge sampling for primary visibility).  Noisy but not blurred: its
expectation is the exact coverage gradient that :mod:`metrics.gradient_accuracy`
measures by finite differences.

The scene (:mod:`renderers.peers.mitsuba_scene`): the faces as one mesh with shared
vertices, placed in camera space so that Mitsuba's pinhole camera projects them back to
their screen coordinates on :mod:`renderers.grid`'s pixels, occlusion by their
perspective-correct depth; the integrator is ``prb_projective`` with the radiance of a
ray 1 where it hits a face (either side), 0 elsewhere.

Source: Jakob et al. 2022, Mitsuba 3 (https://mitsuba.readthedocs.io); Zhang et al.
2023, "Projective Sampling for Differentiable Rendering of Geometry" (SIGGRAPH Asia);
Mitsuba's ``python/ad/integrators/prb_projective.py`` and ``python/ad/projective.py``.
Runs the CPU variant ``llvm_ad_rgb`` (float32); CUDA tensors are rendered on the CPU and
returned on their device.  Registered by :mod:`renderers.peers` when ``mitsuba`` is
installed; imported on first render (:mod:`renderers.peers.mitsuba_setup`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..base import Rasterizer
from ..options import Option
from ..validation import check_face_vertices
from .mitsuba_scene import CoverageScene

#: Samples per pixel of the forward estimate and of the silhouette-edge estimate.
DEFAULT_SPP = 64


class _MitsubaRasterize(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], renderer) -> silhouettes [B, H, W]`` (input dtype)
    with Mitsuba's projective-sampling gradient w.r.t. ``face_vertices``."""

    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, renderer: MitsubaSilhouette):
        fv = face_vertices.detach().to("cpu", torch.float64).numpy()
        seeds = [renderer.image_seed(image) for image in fv]
        sil = np.stack([renderer.scene.render(fv[b], seeds[b]) for b in range(len(fv))])
        ctx.renderer, ctx.fv, ctx.seeds = renderer, fv, seeds
        ctx.out = (face_vertices.device, face_vertices.dtype)
        return torch.from_numpy(sil).to(device=face_vertices.device,
                                         dtype=face_vertices.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        g = grad_output.detach().to("cpu", torch.float32).numpy()
        grads = [ctx.renderer.scene.gradient(ctx.fv[b], g[b], ctx.seeds[b] + 1)
                 for b in range(len(ctx.fv))]
        device, dtype = ctx.out
        return torch.from_numpy(np.stack(grads)).to(device=device, dtype=dtype), None


class MitsubaSilhouette(Rasterizer):
    """Mitsuba 3 silhouette: Monte Carlo pixel coverage, projective-sampling gradient.

    ``spp``: samples per pixel, for the forward coverage estimate and for the
    silhouette-edge samples of the gradient (the integrator's ``sppp``); ``seed``: with
    the image's own faces, it fixes the image's samples (:meth:`image_seed`): the same
    faces give the same image and gradient in any call, batch position or instance (a
    batch of copies is a batch of equal images, float32 input equals float64 input of the
    same values), and other faces (an optimization's next step) or another ``seed`` draw
    other samples.
    """

    name = "mitsuba"
    order = 80
    cost_class = "monte_carlo"
    samples = "spp"
    slow = True
    tuned_from = "edgegrad"  # the other estimator of the coverage gradient
    family = "estimator"
    options = (Option("spp", int, DEFAULT_SPP, "samples per pixel of the forward coverage "
                      "estimate and of the silhouette-edge gradient estimate", low=1),
               Option("seed", int, 0, "seed of the samples (with each image's faces: the "
                      "same faces and seed draw the same samples)", low=0,
                      high=2**31 - 1))
    sharpness = None
    forward_model = ("Monte Carlo pixel coverage: an emitting mesh (radiance 1, two-sided) "
                     "on black, box pixel filter, spp samples per pixel")
    gradient_rule = ("projective sampling of the primarily visible silhouette edges "
                     "(Mitsuba 3 prb_projective): unbiased estimate of the coverage gradient")
    paper = ("Zhang et al. 2023, Projective Sampling for Differentiable Rendering of "
             "Geometry (SIGGRAPH Asia); Mitsuba 3 (Jakob et al. 2022)")
    cost = "B*H*W*spp primary rays (forward), as many silhouette samples (backward)"

    def __init__(self, image_size=64, spp: int = DEFAULT_SPP, seed: int = 0) -> None:
        super().__init__(image_size)
        self.spp = self.check_option("spp", spp)
        self.seed = self.check_option("seed", seed)
        #: The Mitsuba side (imports Mitsuba on first render).
        self.scene = CoverageScene(self.height, self.width, self.spp)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> coverage estimates ``[B, H, W]`` in
        ``[0, 1]`` (input dtype and device; computed in float32)."""
        check_face_vertices(face_vertices)
        nb, nf = face_vertices.shape[:2]
        if nf == 0:  # empty image, still on the input's autograd graph (zero gradient;
            # the sum of no values is exactly 0)
            return face_vertices.sum() + face_vertices.new_zeros(nb, self.height, self.width)
        return _MitsubaRasterize.apply(face_vertices, self)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """``B * H * W * spp`` primary rays (one BVH traversal each, not one face)."""
        return float(face_vertices.shape[0] * self.height * self.width * self.spp)

    def image_seed(self, faces: np.ndarray) -> int:
        """The forward seed (uint32) of one image's faces float64 ``[F, 3, 3]``: a hash of
        ``seed`` and the faces' values; its gradient uses the next seed."""
        digest = hashlib.blake2b(np.ascontiguousarray(faces, dtype=np.float64).tobytes(),
                                 digest_size=4, key=self.seed.to_bytes(4, "little"))
        return int.from_bytes(digest.digest(), "little") & 0xFFFFFFFE
