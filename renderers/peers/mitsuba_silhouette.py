"""``mitsuba``: Mitsuba 3's physically based silhouette behind this project's interface.

Forward: the pixel coverage, estimated by Monte Carlo.  The faces are an emitting mesh
(area emitter, radiance 1) on a black background; a pixel's value is the radiance
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

Every face is wound counter-clockwise on screen first (:func:`facing_order`), so that
its one-sided emitter faces the camera.  Coordinates: screen ``(x, y)`` with camera depth
``z`` is placed at camera-space
``P = s (-x z, y z H / W, z)``: a pinhole camera at the origin looking along +z with a 90
degree horizontal field of view (Mitsuba's camera +x is the image's left) projects ``P``
back to ``(x, y)``, and a planar face to the triangle of its projected corners, so the
image is the screen triangles' coverage on :mod:`renderers.grid`'s pixels, occlusion by
the perspective-correct depth.  ``s = 1 / max z`` (detached: the image does not depend
on it) keeps the scene in Mitsuba's clip range.  (Mitsuba's projective integrators
accept only perspective sensors, so no orthographic camera.)

Source: Jakob et al. 2022, Mitsuba 3 (https://mitsuba.readthedocs.io); Zhang et al.
2023, "Projective Sampling for Differentiable Rendering of Geometry" (SIGGRAPH Asia);
Mitsuba's ``python/ad/integrators/prb_projective.py`` and ``python/ad/projective.py``.
Runs the CPU variant ``llvm_ad_rgb`` (float32); CUDA tensors are rendered on the CPU and
returned on their device.  Registered by :mod:`renderers.peers` when ``mitsuba`` is
installed; imported on first render (:mod:`renderers.peers.mitsuba_setup`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..base import Rasterizer
from ..options import Option
from ..validation import check_face_vertices
from .mitsuba_setup import build_scene, import_mitsuba

#: Samples per pixel of the forward estimate and of the silhouette-edge estimate.
DEFAULT_SPP = 64
#: Nearest camera depth kept, as a fraction of the farthest (Mitsuba's near clip).
DEPTH_RATIO_LIMIT = 1e-5
#: Scenes (one per mesh topology) a renderer keeps.
SCENE_CACHE = 4


@dataclass
class Topology:
    """One image's faces ``[F, 3, 3]`` as a shared-vertex mesh: ``vertices`` float64
    ``[V, 3]`` (the distinct corners, screen space), ``faces`` uint32 ``[F', 3]`` (the
    non-degenerate faces: three distinct corners), ``corner`` int64 ``[F, 3]`` (each
    input corner's vertex) and ``copies`` float64 ``[V]`` (input corners per vertex)."""

    vertices: np.ndarray
    faces: np.ndarray
    corner: np.ndarray
    copies: np.ndarray

    @classmethod
    def of(cls, fv: np.ndarray) -> Topology:
        vertices, inverse, counts = np.unique(fv.reshape(-1, 3), axis=0, return_inverse=True,
                                              return_counts=True)
        corner = inverse.reshape(-1, 3)
        distinct = ((corner[:, 0] != corner[:, 1]) & (corner[:, 1] != corner[:, 2])
                    & (corner[:, 0] != corner[:, 2]))
        return cls(vertices, corner[distinct].astype(np.uint32), corner,
                   counts.astype(np.float64))

    def key(self) -> tuple[int, bytes]:
        """What a cached scene must match: vertex count and face indices."""
        return len(self.vertices), self.faces.tobytes()


def camera_positions(vertices: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera-space points float32 ``[V, 3]`` of screen-space vertices ``[V, 3]``
    (module docstring: ``s (-x z, y z H / W, z)``, ``s = 1 / max z``)."""
    z = vertices[:, 2]
    pos = np.stack([-vertices[:, 0] * z, vertices[:, 1] * z * (height / width), z], axis=-1)
    return (pos / z.max()).astype(np.float32)


class _MitsubaRasterize(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], renderer) -> silhouettes [B, H, W]`` (input dtype)
    with Mitsuba's projective-sampling gradient w.r.t. ``face_vertices``."""

    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, renderer: MitsubaSilhouette):
        fv = face_vertices.detach().to("cpu", torch.float64).numpy()
        seeds = renderer._next_seeds(len(fv))
        sil = np.stack([renderer._render(fv[b], seeds[b]) for b in range(len(fv))])
        ctx.renderer, ctx.fv, ctx.seeds = renderer, fv, seeds
        ctx.out = (face_vertices.device, face_vertices.dtype)
        return torch.from_numpy(sil).to(device=face_vertices.device,
                                         dtype=face_vertices.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        g = grad_output.detach().to("cpu", torch.float32).numpy()
        grads = [ctx.renderer._gradient(ctx.fv[b], g[b], ctx.seeds[b] + 1)
                 for b in range(len(ctx.fv))]
        device, dtype = ctx.out
        return torch.from_numpy(np.stack(grads)).to(device=device, dtype=dtype), None


class MitsubaSilhouette(Rasterizer):
    """Mitsuba 3 silhouette: Monte Carlo pixel coverage, projective-sampling gradient.

    ``spp``: samples per pixel, for the forward coverage estimate and for the
    silhouette-edge samples of the gradient (the integrator's ``sppp``); ``seed``: seed of
    the first call's samples; call ``k`` of this instance uses seeds
    ``seed + 2 (B k + b)`` (forward, image ``b``) and that plus 1 (gradient), so
    successive calls draw fresh samples and a new instance repeats them.
    """

    name = "mitsuba"
    family = "estimator"
    options = (Option("spp", int, DEFAULT_SPP, "samples per pixel of the forward coverage "
                      "estimate and of the silhouette-edge gradient estimate", low=1),
               Option("seed", int, 0, "seed of the first call's samples", low=0,
                      high=2**31 - 1))
    sharpness = None
    forward_model = ("Monte Carlo pixel coverage: an emitting mesh (radiance 1) on black, "
                     "box pixel filter, spp samples per pixel")
    gradient_rule = ("projective sampling of the primarily visible silhouette edges "
                     "(Mitsuba 3 prb_projective): unbiased estimate of the coverage gradient")
    paper = ("Zhang et al. 2023, Projective Sampling for Differentiable Rendering of "
             "Geometry (SIGGRAPH Asia); Mitsuba 3 (Jakob et al. 2022)")
    cost = "B*H*W*spp primary rays (forward), as many silhouette samples (backward)"

    def __init__(self, image_size=64, spp: int = DEFAULT_SPP, seed: int = 0) -> None:
        super().__init__(image_size)
        self.spp = self.options[0].validate(spp)
        self.seed = self.options[1].validate(seed)
        self._calls = 0
        self._scenes: dict[tuple[int, bytes], tuple[object, object]] = {}

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> coverage estimates ``[B, H, W]`` in
        ``[0, 1]`` (input dtype and device; computed in float32)."""
        check_face_vertices(face_vertices)
        nb, nf = face_vertices.shape[:2]
        if nf == 0:
            return face_vertices.new_zeros(nb, self.height, self.width)
        with torch.no_grad():
            z = face_vertices[..., 2].flatten(1)
            ratio = float((z.min(1).values / z.max(1).values).min())
        if ratio < DEPTH_RATIO_LIMIT:
            raise ValueError(f"mitsuba: nearest / farthest camera depth of an image is "
                             f"{ratio:.3g} < {DEPTH_RATIO_LIMIT:g} (outside its clip "
                             "range); clip the mesh or move the camera")
        return _MitsubaRasterize.apply(face_vertices, self)

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """``B * H * W * spp`` primary rays (one BVH traversal each, not one face)."""
        return float(face_vertices.shape[0] * self.height * self.width * self.spp)

    # ----------------------------------------------------------------- Mitsuba side

    def _next_seeds(self, batch: int) -> list[int]:
        first = self.seed + 2 * batch * self._calls
        self._calls += 1
        return [(first + 2 * b) % 2**32 for b in range(batch)]

    def _scene(self, topo: Topology):
        """``(scene, params)`` for the mesh ``topo``, built once per topology (the last
        :data:`SCENE_CACHE` kept: an optimization loop renders one topology)."""
        key = topo.key()
        if key not in self._scenes:
            mi, _ = import_mitsuba()
            pos = camera_positions(topo.vertices, self.height, self.width)
            scene = build_scene(mi, pos, topo.faces, self.height, self.width)
            while len(self._scenes) >= SCENE_CACHE:
                self._scenes.pop(next(iter(self._scenes)))
            self._scenes[key] = (scene, mi.traverse(scene))
        return self._scenes[key]

    def _set_positions(self, topo: Topology, grad: bool = False):
        """Load the mesh ``topo`` into its scene; with ``grad``, its vertices' screen
        coordinates as Dr.Jit variables ``(x, y, z)`` with gradients enabled."""
        mi, dr = import_mitsuba()
        scene, params = self._scene(topo)
        z = topo.vertices[:, 2]
        params["sensor.near_clip"] = 0.5 * float(z.min() / z.max())
        params["sensor.far_clip"] = 2.0
        if not grad:
            params["soup.vertex_positions"] = mi.Float(
                camera_positions(topo.vertices, self.height, self.width).ravel())
            params.update()
            return scene, params, None
        xyz = [mi.Float(topo.vertices[:, c].astype(np.float32)) for c in range(3)]
        dr.enable_grad(xyz)
        x, y, depth = xyz
        # Opaque scale factors: literals would compile a new kernel for every new value.
        sx, sy = (dr.opaque(mi.Float, f / float(z.max())) for f in (1.0, self.height / self.width))
        pos = mi.Point3f(-x * depth * sx, y * depth * sy, depth * sx)
        params["soup.vertex_positions"] = dr.ravel(pos)
        params.update()
        return scene, params, xyz

    def _render(self, fv: np.ndarray, seed: int) -> np.ndarray:
        """Coverage estimate float32 ``[H, W]`` of one image's faces ``[F, 3, 3]``."""
        topo = Topology.of(fv)
        if len(topo.faces) == 0:
            return np.zeros((self.height, self.width), np.float32)
        mi, _ = import_mitsuba()
        scene, _, _ = self._set_positions(topo)
        img = mi.render(scene, spp=self.spp, seed=seed)
        return np.asarray(img, dtype=np.float32)[..., 0]

    def _gradient(self, fv: np.ndarray, grad_image: np.ndarray, seed: int) -> np.ndarray:
        """Projective-sampling estimate of ``d(sum(grad_image * S)) / d fv`` ``[F, 3, 3]``
        for one image's faces ``fv`` and ``grad_image`` ``[H, W]``; a vertex's gradient is
        shared equally by its copies in ``fv`` (so ``render``'s gather sums it back)."""
        topo = Topology.of(fv)
        if len(topo.faces) == 0:
            return np.zeros(fv.shape)
        mi, dr = import_mitsuba()
        scene, params, xyz = self._set_positions(topo, grad=True)
        g_img = mi.TensorXf(np.ascontiguousarray(grad_image[..., None], dtype=np.float32))
        scene.integrator().render_backward(scene, params, g_img, seed=seed, spp=self.spp)
        per_vertex = np.stack([np.asarray(dr.grad(v), dtype=np.float64) for v in xyz], axis=-1)
        return (per_vertex / topo.copies[:, None])[topo.corner]
