"""How close is a rasterizer's gradient to the true gradient of a silhouette loss?

The true silhouette is the exact pixel coverage (:mod:`metrics.exact_coverage`); its
gradient w.r.t. the vertices is measured by central finite differences in float64 over
the screen coordinates ``(x, y)`` of every compared vertex (coverage does not depend on
depth).  For world-space scenes the screen gradient is pulled back to world coordinates
through the camera projection by the chain rule (autograd of
:meth:`renderers.Camera.project`), which is exact since only ``x, y`` enter the
coverage.  Each finite difference recomputes only what the moved vertex touches (the
coverage of its faces for the additive ``clip``/``front`` methods; the affected pixel rows
for ``scanline``), so a 642-vertex sphere costs about a second.

A renderer's gradient is autograd through ``rasterize`` (screen scenes: leaf = screen
``x, y``) or ``render`` (world scenes: leaf = world vertices).  Comparison
(:func:`compare_gradients`) over the compared vertices, gradients flattened:

* ``cosine``: cosine similarity; 0 when the renderer's gradient is exactly zero (e.g. a
  hard rasterizer), NaN when the reference is zero;
* ``rel_l2``: ``|g - g_ref| / |g_ref|`` (1 for a zero gradient);
* ``sign_agree``: over the *components* whose reference magnitude exceeds
  ``SIGN_TOLERANCE`` times the largest reference component, the fraction where the
  renderer's component has the same (nonzero) sign; ``n_signif`` counts them;
* ``norm_ratio``: ``|g| / |g_ref|``.

A gradient or reference holding NaN/Inf is not scored: :func:`compare_gradients` raises
``ValueError`` naming it (a NaN gradient is not a zero gradient).

A second, independent reference where Mitsuba 3 is installed
(:func:`peer_reference_gradient`): the ``mitsuba`` renderer's projective-sampling
estimate (:mod:`renderers.peers.mitsuba_silhouette`), an unbiased Monte Carlo estimate
of the same coverage gradient, at :data:`PEER_REFERENCE_SPP` samples per pixel.  Measured
at 32 px against the finite differences: cosine >= 0.997 on every scene of
:data:`SCENES` at 256 spp (>= 0.97 at 16 spp).

Losses (:class:`Loss`): ``weighted`` = ``sum(w * S)`` with a fixed random smooth weight
image ``w`` (zero mean, unit standard deviation over the pixels, a sum of a few random
low-frequency cosines); ``iou`` = ``1 - soft IoU(S, T)`` against the binarized (>= 0.5)
exact coverage ``T`` of a perturbed copy of the scene (scaled by 1.15, shifted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import renderers
from renderers import Camera, gather_faces
from renderers.grid import pixel_centers

from .exact_coverage import (
    center_coverage,
    clip_coverage,
    exact_coverage,
    front_coverage,
    scanline_positions,
    scanline_rows,
)
from .finite import check_finite
from .iou import silhouette_iou
from .meshes import box_mesh, template_sphere

#: Central-difference step in normalized screen units (a pixel of a 32-px image is 0.0625).
FD_STEP = 1e-6
#: Reference components below this fraction of the largest are ignored by ``sign_agree``.
SIGN_TOLERANCE = 1e-2
#: Camera depth given to screen-space scenes (their coverage does not depend on it).
SCREEN_DEPTH = 2.0
#: The second gradient reference (:func:`peer_reference_gradient`): a registered
#: renderer whose gradient estimates the exact coverage gradient without bias.
PEER_REFERENCE = "mitsuba"
#: Its samples per pixel (forward and silhouette edges) and seed (one no default
#: ``mitsuba`` renderer's first call uses).
PEER_REFERENCE_SPP = 256
PEER_REFERENCE_SEED = 1_000_001
#: Scanlines per pixel row for ``scanline`` scenes.  Measured on the ``soup`` and
#: ``two_boxes`` scenes at 32 px against 1024 rows, the relative L2 error of the reference
#: gradient is 2-6% at 16 rows, 0.3-1.1% at 64 and 0.1-0.4% at 256.
SCENE_ROWS_PER_PIXEL = 256


@dataclass
class Scene:
    """A test scene.

    ``space="screen"``: ``vertices`` float64 ``[V, 2]`` are screen ``x, y`` (normalized
    units), rendered with ``rasterize`` at depth :data:`SCREEN_DEPTH`.  ``space="world"``:
    ``vertices`` float64 ``[V, 3]`` world units, seen by ``camera`` (one view).
    ``faces`` int64 ``[F, 3]``; ``method``: exact-coverage method valid for the scene
    (``clip``: no overlaps, ``front``: convex closed mesh, ``scanline``: anything);
    ``compare``: int64 indices of the vertices whose gradients are compared (all by
    default).
    """

    name: str
    space: str
    vertices: np.ndarray
    faces: np.ndarray
    method: str
    camera: Camera | None = None
    compare: np.ndarray | None = None
    rows_per_pixel: int = SCENE_ROWS_PER_PIXEL

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float64)
        self.faces = np.asarray(self.faces, dtype=np.int64)
        dim = {"screen": 2, "world": 3}.get(self.space)
        if dim is None:
            raise ValueError(f"scene space must be 'screen' or 'world', got {self.space!r}")
        if self.vertices.ndim != 2 or self.vertices.shape[1] != dim:
            raise ValueError(f"{self.space} scene vertices must be [V, {dim}], got "
                             f"{self.vertices.shape}")
        if self.space == "world" and self.camera is None:
            raise ValueError("a world-space scene needs a camera")
        if self.compare is None:
            self.compare = np.arange(len(self.vertices))
        self.compare = np.asarray(self.compare, dtype=np.int64)

    def screen_xy(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """Screen ``x, y`` float64 ``[V, 2]`` of the scene's (or the given) vertices."""
        v = self.vertices if vertices is None else vertices
        if self.space == "screen":
            return np.asarray(v, dtype=np.float64)
        with torch.no_grad():
            p = self.camera.project(torch.as_tensor(v, dtype=torch.float64)[None])
        return p[0, :, :2].numpy()

    def coverage(self, image_size, vertices: np.ndarray | None = None) -> np.ndarray:
        """Exact coverage float64 ``[H, W]`` (this scene's method)."""
        tri = self.screen_xy(vertices)[self.faces]
        kw = {"rows_per_pixel": self.rows_per_pixel} if self.method == "scanline" else {}
        return exact_coverage(tri, image_size, self.method, **kw)

    def hard(self, image_size) -> np.ndarray:
        """Pixel-centre silhouette float64 ``[H, W]`` (what a hard rasterizer shows)."""
        return center_coverage(self.screen_xy()[self.faces], image_size)

    def render(self, renderer, params: torch.Tensor) -> torch.Tensor:
        """Silhouette ``[H, W]`` of the scene by ``renderer`` with vertex ``params``
        (screen ``[V, 2]`` or world ``[V, 3]`` torch tensor)."""
        faces = torch.as_tensor(self.faces)
        if self.space == "screen":
            z = torch.full_like(params[:, :1], SCREEN_DEPTH)
            fv = gather_faces(torch.cat([params, z], dim=1)[None], faces)
            return renderer.rasterize(fv)[0]
        return renderer.render(params[None], faces, self.camera)[0]


# --------------------------------------------------------------------------- losses


@dataclass
class Loss:
    """A silhouette loss ``fn(S) -> scalar`` valid for numpy float64 and torch ``[H, W]``."""

    name: str
    fn: Callable

    def __call__(self, s):
        return self.fn(s)


def smooth_weights(image_size, seed: int = 0, n_waves: int = 8) -> np.ndarray:
    """Random smooth weight image float64 ``[H, W]``: a sum of ``n_waves`` cosines of
    random low frequency (at most 1.5 periods across the screen) and phase at the pixel
    centres, normalized to zero mean and unit standard deviation."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    rng = np.random.default_rng(seed)
    xs, ys = (c.numpy() for c in pixel_centers(h, w))
    px, py = np.meshgrid(xs, ys, indexing="xy")
    img = np.zeros((h, w))
    for _ in range(n_waves):
        fx, fy = rng.uniform(-0.75, 0.75, size=2)
        img += rng.normal() * np.cos(np.pi * (fx * px + fy * py) + rng.uniform(0, 2 * np.pi))
    img -= img.mean()
    return img / img.std()


def weighted_loss(weights: np.ndarray) -> Loss:
    """``L = sum(w * S)`` for a fixed weight image ``w`` ``[H, W]``."""
    w_np = np.asarray(weights, dtype=np.float64)
    w_t = torch.from_numpy(w_np)

    def fn(s):
        if torch.is_tensor(s):
            return (w_t.to(s.dtype) * s).sum()
        return float((w_np * s).sum())

    return Loss("weighted", fn)


def iou_loss(target: np.ndarray) -> Loss:
    """``L = 1 - soft IoU(S, T)`` against a fixed target silhouette ``T`` ``[H, W]``."""
    t_np = np.asarray(target, dtype=np.float64)
    t_t = torch.from_numpy(t_np)

    def fn(s):
        if torch.is_tensor(s):
            return 1.0 - silhouette_iou(s, t_t.to(s.dtype))
        return 1.0 - float(silhouette_iou(s, t_np))

    return Loss("iou", fn)


def perturbed_copy(scene: Scene) -> np.ndarray:
    """Target vertices for the IoU loss: scaled by 1.15 about the centroid and shifted
    (screen: by (0.04, -0.03) units; world: by (0.05, 0.03, 0) world units)."""
    v = scene.vertices
    c = v.mean(axis=0)
    shift = np.array([0.04, -0.03]) if scene.space == "screen" else np.array([0.05, 0.03, 0.0])
    return c + 1.15 * (v - c) + shift


def scene_losses(scene: Scene, image_size, seed: int = 0) -> list[Loss]:
    """The two study losses for a scene: ``weighted`` and ``iou`` (module docstring)."""
    target = scene.coverage(image_size, perturbed_copy(scene)) >= 0.5
    return [weighted_loss(smooth_weights(image_size, seed)), iou_loss(target)]


# --------------------------------------------------------------------------- scenes

SCENES = ("triangle", "soup_disjoint", "soup", "box", "two_boxes", "sphere")


def _random_triangle(rng, centre, size) -> np.ndarray:
    ang = np.sort(rng.uniform(0, 2 * np.pi, 3))
    rad = size * rng.uniform(0.5, 1.0, 3)
    return centre + np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)


def make_scene(name: str, seed: int = 0, n_compare: int | None = None) -> Scene:
    """A named scene (see :data:`SCENES`):

    * ``triangle``: one random triangle, about 0.6 screen units across (``clip``);
    * ``soup_disjoint``: 9 random triangles, one per cell of a 3x3 grid (``clip``);
    * ``soup``: 8 random overlapping triangles near the centre (``scanline``);
    * ``box``: a 0.8 x 0.7 x 0.6 box under the benchmark camera, view 1 (``front``);
    * ``two_boxes``: two overlapping boxes (a non-convex L-shaped union), benchmark
      view 4 (``scanline``);
    * ``sphere``: :func:`metrics.meshes.template_sphere` (642 vertices) under the
      benchmark camera, view 2 (``front``).

    ``n_compare``: compare only a random subset of that many vertices (all by default).
    """
    rng = np.random.default_rng(seed)
    if name == "triangle":
        v = _random_triangle(rng, rng.uniform(-0.1, 0.1, 2), 0.35)
        scene = Scene(name, "screen", v, np.array([[0, 1, 2]]), "clip")
    elif name == "soup_disjoint":
        tris = [_random_triangle(rng, np.array([cx, cy]) + rng.uniform(-0.05, 0.05, 2), 0.25)
                for cy in (0.6, 0.0, -0.6) for cx in (-0.6, 0.0, 0.6)]
        v = np.concatenate(tris)
        scene = Scene(name, "screen", v, np.arange(len(v)).reshape(-1, 3), "clip")
    elif name == "soup":
        tris = [_random_triangle(rng, rng.uniform(-0.35, 0.35, 2), 0.4) for _ in range(8)]
        v = np.concatenate(tris)
        scene = Scene(name, "screen", v, np.arange(len(v)).reshape(-1, 3), "scanline")
    elif name == "box":
        v, f = box_mesh((-0.4, -0.35, -0.3), (0.4, 0.35, 0.3))
        scene = Scene(name, "world", v, f, "front", camera=Camera.benchmark([1]))
    elif name == "two_boxes":
        v1, f1 = box_mesh((-0.45, -0.4, -0.2), (0.15, -0.05, 0.2))
        v2, f2 = box_mesh((-0.05, -0.4, -0.2), (0.4, 0.45, 0.2))
        v = np.concatenate([v1, v2])
        f = np.concatenate([f1, f2 + len(v1)])
        scene = Scene(name, "world", v, f, "scanline", camera=Camera.benchmark([4]))
    elif name == "sphere":
        v, f = template_sphere()
        scene = Scene(name, "world", v, f, "front", camera=Camera.benchmark([2]))
    else:
        raise ValueError(f"unknown scene {name!r}; available: {SCENES}")
    if n_compare is not None and n_compare < len(scene.vertices):
        scene.compare = np.sort(rng.choice(len(scene.vertices), n_compare, replace=False))
    return scene


# --------------------------------------------------------------------------- gradients


def _incident(faces: np.ndarray, nv: int) -> list[np.ndarray]:
    order = np.argsort(faces.ravel(), kind="stable")
    counts = np.bincount(faces.ravel(), minlength=nv)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return [np.unique(order[starts[i]:starts[i + 1]] // 3) for i in range(nv)]


def reference_screen_gradient(scene: Scene, losses: list[Loss], image_size,
                              step: float = FD_STEP) -> np.ndarray:
    """Central finite differences (float64) of each loss of the exact coverage w.r.t. the
    screen ``x, y`` of the compared vertices: ``[n_losses, V, 2]`` (zero for vertices
    not compared)."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    xy = scene.screen_xy()
    faces = scene.faces
    base = scene.coverage(image_size)
    inc = _incident(faces, len(xy))
    out = np.zeros((len(losses), len(xy), 2))
    if scene.method in ("clip", "front"):
        part = clip_coverage if scene.method == "clip" else front_coverage
    else:
        n = scene.rows_per_pixel
        ys = scanline_positions(h, n)
        base_rows = scanline_rows(xy[faces], w, ys)
        tri_ylo, tri_yhi = xy[faces][..., 1].min(1), xy[faces][..., 1].max(1)
    for v in scene.compare:
        fi = inc[v]
        if len(fi) == 0:
            continue
        for c in range(2):
            vals = []
            for sgn in (1.0, -1.0):
                moved = xy.copy()
                moved[v, c] += sgn * step
                if scene.method in ("clip", "front"):
                    img = base - part(xy[faces[fi]], image_size) + part(moved[faces[fi]],
                                                                        image_size)
                else:
                    ylo = min(xy[faces[fi]][..., 1].min(), moved[faces[fi]][..., 1].min())
                    yhi = max(xy[faces[fi]][..., 1].max(), moved[faces[fi]][..., 1].max())
                    rows = np.nonzero((ys >= ylo) & (ys <= yhi))[0]
                    img = base
                    if len(rows):
                        band = (tri_yhi >= ylo) & (tri_ylo <= yhi)
                        band[fi] = True
                        new = base_rows.copy()
                        new[rows] = scanline_rows(moved[faces[band]], w, ys[rows])
                        img = new.reshape(h, n, w).mean(axis=1)
                vals.append([loss(img) for loss in losses])
            out[:, v, c] = (np.array(vals[0]) - np.array(vals[1])) / (2 * step)
    return out


def reference_gradient(scene: Scene, losses: list[Loss], image_size,
                       step: float = FD_STEP) -> np.ndarray:
    """Reference gradient of each loss w.r.t. the scene's vertices, float64
    ``[n_losses, V, D]`` (D = 2 screen, 3 world; module docstring)."""
    g = reference_screen_gradient(scene, losses, image_size, step)
    if scene.space == "screen":
        return g
    out = np.zeros((len(losses), len(scene.vertices), 3))
    for k in range(len(losses)):
        v = torch.tensor(scene.vertices, dtype=torch.float64, requires_grad=True)
        xy = scene.camera.project(v[None])[0, :, :2]
        (grad,) = torch.autograd.grad((xy * torch.from_numpy(g[k])).sum(), v)
        out[k] = grad.numpy()
    return out


def renderer_gradient(renderer, scene: Scene, losses: list[Loss],
                      dtype: torch.dtype = torch.float32):
    """A renderer's silhouette and autograd gradients of each loss w.r.t. the scene's
    vertices.  Returns ``(silhouette float64 [H, W], grads float64 [n_losses, V, D])``;
    a renderer whose output carries no gradient gives zeros."""
    params = torch.tensor(scene.vertices, dtype=dtype, requires_grad=True)
    sil = scene.render(renderer, params)
    grads = np.zeros((len(losses),) + scene.vertices.shape)
    for k, loss in enumerate(losses):
        value = loss(sil)
        if value.requires_grad:
            (g,) = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            if g is not None:
                grads[k] = g.detach().to(torch.float64).numpy()
    return sil.detach().to(torch.float64).numpy(), grads


def peer_reference_gradient(scene: Scene, losses: list[Loss], image_size,
                            spp: int = PEER_REFERENCE_SPP,
                            seed: int = PEER_REFERENCE_SEED) -> np.ndarray | None:
    """:data:`PEER_REFERENCE`'s gradient of each loss w.r.t. the scene's vertices, float64
    ``[n_losses, V, D]`` (as :func:`reference_gradient`), or ``None`` when that renderer
    is not registered (its package is not installed: :func:`renderers.absent_peers`)."""
    if PEER_REFERENCE not in renderers.available():
        return None
    peer = renderers.build(PEER_REFERENCE, image_size=image_size, spp=spp, seed=seed)
    return renderer_gradient(peer, scene, losses, dtype=torch.float64)[1]


def compare_gradients(grad: np.ndarray, ref: np.ndarray,
                      tolerance: float = SIGN_TOLERANCE) -> dict[str, float]:
    """Agreement of a gradient with the reference (module docstring): ``cosine``,
    ``rel_l2``, ``sign_agree``, ``norm_ratio``, ``n_signif``.  Any matching shapes; the
    arrays are flattened.  NaN/Inf in either raises ``ValueError`` naming it."""
    g = np.asarray(grad, dtype=np.float64).ravel()
    r = np.asarray(ref, dtype=np.float64).ravel()
    if g.shape != r.shape:
        raise ValueError(f"gradient shapes differ: {np.shape(grad)} vs {np.shape(ref)}")
    check_finite("compare_gradients", "the gradient", g)
    check_finite("compare_gradients", "the reference gradient", r)
    gn, rn = np.linalg.norm(g), np.linalg.norm(r)
    if rn == 0:
        cos = rel = ratio = sign = float("nan")
        n_signif = 0
    else:
        cos = float(g @ r / (gn * rn)) if gn > 0 else 0.0
        rel = float(np.linalg.norm(g - r) / rn)
        ratio = float(gn / rn)
        signif = np.abs(r) > tolerance * np.abs(r).max()
        n_signif = int(signif.sum())
        sign = float((np.sign(g[signif]) == np.sign(r[signif])).mean())
    return {"cosine": cos, "rel_l2": rel, "sign_agree": sign, "norm_ratio": ratio,
            "n_signif": n_signif}
