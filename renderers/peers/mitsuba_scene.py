"""The Mitsuba side of the ``mitsuba`` adapter: numpy in, numpy out, no torch.

:class:`CoverageScene` renders one image's faces ``[F, 3, 3]`` (screen space, see
:mod:`renderers.grid`) with Mitsuba 3 and estimates the gradient of
``sum(grad_image * S)`` w.r.t. them:

* the faces become a mesh with shared vertices (:class:`Topology`: equal corners merged),
  so that Mitsuba's silhouette detection sees a closed mesh's outline edge once (between
  a front- and a back-facing face) and not once per face: as a triangle soup each
  outline edge would be sampled twice and its gradient doubled (measured: norm ratio 2.0
  against finite differences on the ``box`` scene);
* screen ``(x, y)`` of a vertex is placed at camera-space ``d (-x, y H / W, 1)``: a
  pinhole camera at the origin looking along +z with a 90 degree horizontal field of view
  (Mitsuba's camera +x is the image's left) projects it back to ``(x, y)`` for any
  ``d > 0``, and a face to the triangle of its projected corners.  Coverage does not
  depend on depth (a face's projection is its corners' projection; which of two faces is
  in front changes no pixel of a union of faces of radiance 1), so ``d``
  (:func:`camera_depths`) is chosen for float32, not taken from ``z``: the screen depths
  ``z`` mapped monotonically into ``[1e-3, 1]`` (``(z / max z) ** p``, ``p <= 1`` just
  small enough; identical to ``z / max z`` when ``min z / max z >= 1e-3``), so occlusion
  follows the depth order of the vertices; a vertex more than 1e15 screen units off screen
  is moved nearer along its camera ray, so that it stays a finite float32 point.
  The camera's clip range is set from these depths (:func:`clip_range`): any input the
  validation accepts renders.  (Mitsuba's projective integrators accept only
  perspective sensors.)
* the integrator (:func:`register_coverage_integrator`) is ``prb_projective`` with the
  radiance of a ray 1 where it hits any face, from either side, else 0: coverage.

Run as a script (``python mitsuba_scene.py``) it is the LLVM probe of
:func:`renderers.peers.mitsuba_setup.probe_llvm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

if __package__:
    from .mitsuba_setup import import_mitsuba
else:  # run as the probe script: no package, hence no torch
    from mitsuba_setup import import_mitsuba

#: Name under which the coverage integrator is registered with Mitsuba.
COVERAGE_INTEGRATOR = "coverage_projective"
#: Scenes (one per mesh topology) a :class:`CoverageScene` keeps.
SCENE_CACHE = 4

_registered: set[str] = set()


def register_coverage_integrator(mi, dr) -> None:
    """Register :data:`COVERAGE_INTEGRATOR` (once per variant): Mitsuba's
    ``prb_projective`` with the radiance of a ray set to 1 when it hits any face (a
    two-sided emitter of radiance 1 and no other light) and 0 otherwise.  The rest, the
    primarily-visible silhouette sampling included, is ``prb_projective``'s.  (Its
    ``area`` emitter emits on one side only, so a closed mesh's nearer faces may be
    dark, and turning every face to the camera would break the edge adjacency that its
    silhouette detection reads.)"""
    if mi.variant() in _registered:
        return
    # Optional dependency; its integrators import only once a variant is set.
    from mitsuba.ad.integrators.prb_projective import PathProjectiveIntegrator

    class CoverageProjective(PathProjectiveIntegrator):
        def sample(self, mode, scene, sampler, ray, depth, δL, state_in, active,  # noqa: N803
                   project=False, si_shade=None, **kwargs):
            active = mi.Bool(active)
            if si_shade is None:  # a camera (or background) ray: covered where it hits
                hit = active & scene.ray_test(mi.Ray3f(ray), active)
            else:  # starts on a silhouette point of a face: that face is seen
                hit = active
            return dr.select(hit, mi.Spectrum(1.0), mi.Spectrum(0.0)), active, [], None

    mi.register_integrator(COVERAGE_INTEGRATOR, lambda props: CoverageProjective(props))
    _registered.add(mi.variant())


def build_scene(mi, vertices: np.ndarray, faces: np.ndarray, height: int, width: int):
    """A mesh ``soup`` (float32 camera-space ``vertices`` ``[V, 3]``, uint32 ``faces``
    ``[F, 3]``) seen by the pinhole camera of the module docstring on a
    ``height x width`` film with a box pixel filter, rendered by
    :data:`COVERAGE_INTEGRATOR` with no continuous (``sppc``) and no indirect (``sppi``)
    derivative term: its gradient is the primary-visibility (silhouette) term alone."""
    mesh = mi.Mesh("soup", len(vertices), len(faces))
    mesh_params = mi.traverse(mesh)
    mesh_params["vertex_positions"] = mi.Float(vertices.ravel())
    mesh_params["faces"] = mi.UInt32(faces.ravel())
    mesh_params.update()
    return mi.load_dict({
        "type": "scene",
        "integrator": {"type": COVERAGE_INTEGRATOR, "max_depth": 1, "sppc": 0, "sppi": 0},
        "sensor": {"type": "perspective", "fov": 90.0, "fov_axis": "x",
                   "film": {"type": "hdrfilm", "width": width, "height": height,
                            "rfilter": {"type": "box"}, "pixel_format": "luminance",
                            "sample_border": True},
                   "sampler": {"type": "independent"}},
        "soup": mesh,
    })


@dataclass
class Topology:
    """One image's faces ``[F, 3, 3]`` as a shared-vertex mesh: ``vertices`` float64
    ``[V, 3]`` (the distinct corners, screen space), ``faces`` uint32 ``[F', 3]`` (the
    faces that can cover a pixel, each once: :meth:`of`), ``corner`` int64 ``[F, 3]``
    (each input corner's vertex) and ``copies`` float64 ``[V]`` (input corners per
    vertex)."""

    vertices: np.ndarray
    faces: np.ndarray
    corner: np.ndarray
    copies: np.ndarray

    @classmethod
    def of(cls, fv: np.ndarray) -> Topology:
        """Merge equal corners; keep the faces whose projected triangle has nonzero
        area (a face seen edge-on, or with a repeated corner, covers nothing: coverage and
        its gradient are the same without it), each corner set once (a repeated face adds
        nothing to the union; kept twice, the pair would close the mesh with no
        silhouette edge, and Mitsuba's silhouette distribution would be empty)."""
        vertices, inverse, counts = np.unique(fv.reshape(-1, 3), axis=0, return_inverse=True,
                                              return_counts=True)
        corner = inverse.reshape(-1, 3)
        ab, ac = fv[:, 1, :2] - fv[:, 0, :2], fv[:, 2, :2] - fv[:, 0, :2]
        area2 = ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]
        distinct = ((corner[:, 0] != corner[:, 1]) & (corner[:, 1] != corner[:, 2])
                    & (corner[:, 0] != corner[:, 2]) & (area2 != 0))
        kept = corner[distinct]
        _, first = np.unique(np.sort(kept, axis=1), axis=0, return_index=True)
        return cls(vertices, kept[np.sort(first)].astype(np.uint32), corner,
                   counts.astype(np.float64))

    def key(self) -> tuple[int, bytes]:
        """What a cached scene must match: vertex count and face indices."""
        return len(self.vertices), self.faces.tobytes()


#: Smallest camera depth :func:`camera_depths` maps the nearest screen depth to (before
#: the off-screen division), as a fraction of the farthest.
DEPTH_RANGE = 1e-3
#: Largest camera-space |x|, |y| of a vertex (float32: the ray-triangle test multiplies
#: two of them; a vertex farther off screen is moved nearer along its camera ray).
MAX_CAMERA_COORD = 1e15
#: Smallest near clip distance.  Measured (one triangle at depth 1, 16 px): Mitsuba's
#: perspective camera renders with near clips down to 1e-15 and nothing at 1e-20.  Only
#: a face whose three corners are all more than about 1e23 screen units off screen can
#: be nearer than this where it crosses the image (and is then clipped).
MIN_NEAR_CLIP = 1e-12


def camera_depths(vertices: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera depths ``d`` float64 ``[V]`` of screen-space vertices ``[V, 3]`` (``z > 0``;
    module docstring): ``(z / max z) ** p`` with ``p = min(1, log 1e-3 / log(min z /
    max z))`` (in ``[DEPTH_RANGE, 1]``, the order of ``z`` kept), divided by
    ``max(1, |x| / C, |y| H / W / C)``, ``C`` = :data:`MAX_CAMERA_COORD`."""
    z = vertices[:, 2]
    rel = z / z.max()
    lo = float(rel.min())
    p = 1.0 if lo >= DEPTH_RANGE else float(np.log(DEPTH_RANGE) / np.log(lo))
    reach = np.maximum(1.0, np.maximum(np.abs(vertices[:, 0]), np.abs(vertices[:, 1])
                                       * (height / width)) / MAX_CAMERA_COORD)
    return rel ** p / reach


def camera_positions(vertices: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera-space points float32 ``[V, 3]`` of screen-space vertices ``[V, 3]``
    (module docstring: ``d (-x, y H / W, 1)``, ``d`` from :func:`camera_depths`)."""
    d = camera_depths(vertices, height, width)
    pos = np.stack([-vertices[:, 0] * d, vertices[:, 1] * d * (height / width), d], axis=-1)
    return pos.astype(np.float32)


def clip_range(depths: np.ndarray) -> tuple[float, float]:
    """``(near, far)`` clip distances for camera depths ``[V]`` (:func:`camera_depths`):
    half the nearest (at least :data:`MIN_NEAR_CLIP`) and twice the farthest, so every
    point of every face is inside (a face's depths lie between its corners')."""
    return max(0.5 * float(depths.min()), MIN_NEAR_CLIP), 2.0 * float(depths.max())


class CoverageScene:
    """Coverage images and their gradients for one image size and sample count.

    ``height``, ``width``: pixels; ``spp``: samples per pixel of the forward estimate
    and of the silhouette-edge gradient estimate (the integrator's ``sppp``).  Mitsuba
    is imported on first use (:func:`renderers.peers.mitsuba_setup.import_mitsuba`)."""

    def __init__(self, height: int, width: int, spp: int, probe: bool = True) -> None:
        self.height, self.width, self.spp, self.probe = height, width, spp, probe
        self._scenes: dict[tuple[int, bytes], tuple[object, object]] = {}

    def _mitsuba(self):
        mi, dr = import_mitsuba(probe=self.probe)
        register_coverage_integrator(mi, dr)
        return mi, dr

    def _scene(self, topo: Topology):
        """``(scene, params)`` for the mesh ``topo``, built once per topology (the last
        :data:`SCENE_CACHE` kept: an optimization loop renders one topology)."""
        key = topo.key()
        if key not in self._scenes:
            mi, _ = self._mitsuba()
            pos = camera_positions(topo.vertices, self.height, self.width)
            scene = build_scene(mi, pos, topo.faces, self.height, self.width)
            while len(self._scenes) >= SCENE_CACHE:
                self._scenes.pop(next(iter(self._scenes)))
            self._scenes[key] = (scene, mi.traverse(scene))
        return self._scenes[key]

    def _load(self, topo: Topology, grad: bool = False):
        """Load the mesh ``topo`` into its scene (and the clip range its depths need);
        with ``grad``, its vertices' ``(d x, d y)`` (``d``: :func:`camera_depths`, so
        ``|d x|, |d y| <= 1``: finite in float32 for any input) as Dr.Jit variables with
        gradients enabled, and ``d`` (the camera depths are constants: coverage does not
        depend on depth)."""
        mi, dr = self._mitsuba()
        scene, params = self._scene(topo)
        d = camera_depths(topo.vertices, self.height, self.width)
        params["sensor.near_clip"], params["sensor.far_clip"] = clip_range(d)
        if not grad:
            params["soup.vertex_positions"] = mi.Float(
                camera_positions(topo.vertices, self.height, self.width).ravel())
            params.update()
            return scene, params, None, d
        dxy = [mi.Float((topo.vertices[:, c] * d).astype(np.float32)) for c in range(2)]
        dr.enable_grad(dxy)
        # An opaque aspect factor: a literal would compile a new kernel per image shape.
        aspect = dr.opaque(mi.Float, self.height / self.width)
        params["soup.vertex_positions"] = dr.ravel(mi.Point3f(
            -dxy[0], dxy[1] * aspect, mi.Float(d.astype(np.float32))))
        params.update()
        return scene, params, dxy, d

    def render(self, fv: np.ndarray, seed: int) -> np.ndarray:
        """Coverage estimate float32 ``[H, W]`` of one image's faces ``[F, 3, 3]``
        (float64, depth > 0)."""
        topo = Topology.of(fv)
        if len(topo.faces) == 0:
            return np.zeros((self.height, self.width), np.float32)
        mi, _ = self._mitsuba()
        scene, _, _, _ = self._load(topo)
        img = mi.render(scene, spp=self.spp, seed=seed)
        return np.asarray(img, dtype=np.float32)[..., 0]

    def gradient(self, fv: np.ndarray, grad_image: np.ndarray, seed: int) -> np.ndarray:
        """Projective-sampling estimate of ``d(sum(grad_image * S)) / d fv``, float64
        ``[F, 3, 3]``, for one image's faces ``fv`` and ``grad_image`` ``[H, W]``; a
        vertex's gradient is shared equally by its copies in ``fv`` (so a gather of
        shared vertices, as in ``render``, sums it back).  Its depth (``z``) component is
        exactly 0: coverage does not depend on screen depth."""
        topo = Topology.of(fv)
        if len(topo.faces) == 0:
            return np.zeros(fv.shape)
        mi, dr = self._mitsuba()
        scene, params, dxy, d = self._load(topo, grad=True)
        g_img = mi.TensorXf(np.ascontiguousarray(grad_image[..., None], dtype=np.float32))
        scene.integrator().render_backward(scene, params, g_img, seed=seed, spp=self.spp)
        per_vertex = np.zeros((len(topo.vertices), 3))
        for c, v in enumerate(dxy):  # d(d x) / dx = d
            per_vertex[:, c] = np.asarray(dr.grad(v), dtype=np.float64) * d
        return (per_vertex / topo.copies[:, None])[topo.corner]


def probe() -> None:
    """The LLVM probe: :class:`CoverageScene`'s render and gradient of one triangle."""
    scene = CoverageScene(4, 4, spp=1, probe=False)
    tri = np.array([[[-0.5, -0.5, 1.0], [0.5, -0.5, 1.5], [0.0, 0.5, 2.0]]])
    scene.render(tri, seed=0)
    scene.gradient(tri, np.ones((4, 4)), seed=1)


if __name__ == "__main__":
    probe()
