"""The renderer interface and its registry.

A renderer (here: a rasterizer of silhouettes) is any class with two methods:

* ``rasterize(face_vertices)``: ``[B, F, 3, 3]`` screen-space face vertices (x, y
  normalized as in :mod:`renderers.grid`, z = camera depth > 0) to silhouettes
  ``[B, H, W]`` in ``[0, 1]``, differentiable w.r.t. ``face_vertices`` (or not, as the
  renderer defines);
* ``render(vertices, faces, camera)``: world vertices ``[B, V, 3]``, int64 faces
  ``[F, 3]`` or ``[B, F, 3]`` and a :class:`renderers.Camera` to silhouettes; it
  projects and calls ``rasterize_mesh(screen_vertices, faces)``, by default
  ``rasterize`` of the gathered faces (a renderer may override it to reuse work that
  depends on the faces only).

Subclass :class:`Rasterizer` to get ``render`` for free, declare what the renderer is
(options, sharpness, family, ...; see :mod:`renderers.options`), then ``register`` it.
:func:`build` makes any registered renderer from a name plus settings.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

from . import contract
from .camera import Camera
from .grid import image_hw
from .options import FAMILIES, UNORDERED, Option, RendererInfo
from .validation import MAX_COORDINATE, check_vertices_faces


class _ZeroGradient(torch.autograd.Function):
    """``(vertices, out) -> out`` (a copy) whose gradient w.r.t. ``vertices`` is zeros of
    its shape, dtype and device, and none w.r.t. ``out``: :meth:`Rasterizer.render` of
    a renderer whose every gradient is zero (:attr:`Rasterizer.zero_gradient`), so that
    no backward of zeros runs through the projection."""

    @staticmethod
    def forward(ctx, vertices: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        ctx.input = (vertices.shape, vertices.dtype, vertices.device)
        return out.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        shape, dtype, device = ctx.input
        return torch.zeros(shape, dtype=dtype, device=device), None


def _camera_requires_grad(camera: Camera) -> bool:
    return any(torch.is_tensor(p) and p.requires_grad
               for p in (camera.distance, camera.elevation, camera.azimuth))


class _GatherShared(torch.autograd.Function):
    """``vertices [B, V, D]``, int64 ``faces [F, 3]`` -> ``[B, F, 3, D]`` on the CPU.
    Forward ``index_select``; backward ``index_add_`` into a batch-last ``[V, B * D]``
    (one contiguous row per vertex, added in face order, as ``vertices[:, faces]``'s
    ``index_put_`` would: the same bits, about 3x less time; that ``index_put_`` runs
    on one thread)."""

    @staticmethod
    def forward(ctx, vertices, faces):
        idx = faces.reshape(-1)
        ctx.save_for_backward(idx)
        ctx.num_vertices = vertices.shape[1]
        return vertices.index_select(1, idx).view(vertices.shape[0], *faces.shape,
                                                  vertices.shape[-1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (idx,) = ctx.saved_tensors
        nb, nd = grad.shape[0], grad.shape[-1]
        src = grad.reshape(nb, -1, nd).transpose(0, 1).reshape(-1, nb * nd)
        out = grad.new_zeros(ctx.num_vertices, nb * nd).index_add_(0, idx, src)
        return out.view(-1, nb, nd).transpose(0, 1).contiguous(), None


def gather_faces(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Per-face vertices ``[B, F, 3, D]`` from per-vertex values ``[B, V, D]`` (positions,
    D = 3, or colours) and int64 faces ``[F, 3]`` or ``[B, F, 3]`` (differentiable
    w.r.t. ``vertices``)."""
    nb, nd = vertices.shape[0], vertices.shape[-1]
    if faces.dim() == 2:
        if vertices.device.type == "cpu" and faces.device.type == "cpu":
            return _GatherShared.apply(vertices, faces)
        return vertices[:, faces]
    idx = faces.reshape(nb, -1, 1).expand(-1, -1, nd)
    return torch.gather(vertices, 1, idx).reshape(nb, faces.shape[1], 3, nd)


class Rasterizer:
    """Base class: holds the image size and implements ``render`` on top of
    ``rasterize``.  ``image_size``: int (square) or ``(H, W)`` in pixels.

    Subclasses describe themselves with the class attributes below (see
    :mod:`renderers.options`); ``options = None`` means "not declared" (a user's plugin):
    :func:`build` then passes options through unchecked."""

    name = "base"
    #: One of :data:`renderers.options.FAMILIES` ("" = not declared).
    family = ""
    #: Declared keyword options besides ``image_size`` (``None`` = not declared).
    options: tuple[Option, ...] | None = None
    #: Name of the option that sets the silhouette's softness, or ``None``.
    sharpness: str | None = None
    forward_model = ""
    gradient_rule = ""
    paper = ""
    #: Largest coordinate magnitude accepted per dtype (screen units;
    #: :data:`renderers.validation.MAX_COORDINATE` unless the renderer declares less).
    max_coordinate: dict | None = MAX_COORDINATE
    #: How :meth:`pairs_evaluated` counts work, in words.
    cost = ""
    #: How the work grows: one of :data:`renderers.options.COST_CLASSES`.
    cost_class = "culled"
    #: The option counting samples per pixel (``monte_carlo`` renderers), or ``None``.
    samples: str | None = None
    #: A slow reference: opt-in in reconstruction, a reduced budget in fitting.
    slow = False
    #: The renderer whose tuned settings this one borrows (``None``: tuned itself).
    tuned_from: str | None = None
    #: Display order in tables and figures (smaller first; ties by name).
    order = UNORDERED
    #: Every gradient of the output is zero (``hard``): :meth:`render` then projects
    #: without autograd and gives the world vertices zeros directly (unless a camera
    #: parameter needs its gradient).
    zero_gradient = False

    def __init__(self, image_size: int | tuple[int, int] = 64) -> None:
        self.image_size = image_size
        self.height, self.width = image_hw(image_size)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def render(self, vertices: torch.Tensor, faces: torch.Tensor, camera: Camera) -> torch.Tensor:
        """Silhouettes ``[B, H, W]`` of world-space meshes seen by ``camera``.

        ``vertices`` ``[B, V, 3]`` (a single ``[V, 3]`` mesh is broadcast to the camera's
        views), ``faces`` int64 ``[F, 3]`` or ``[B, F, 3]``.
        """
        if not isinstance(camera, Camera):
            raise TypeError(f"camera must be a renderers.Camera, got {type(camera).__name__}")
        if torch.is_tensor(vertices) and vertices.dim() == 2:
            vertices = vertices.unsqueeze(0)
        faces = check_vertices_faces(vertices, faces)
        skip = self.zero_gradient and not _camera_requires_grad(camera)
        with torch.no_grad() if skip else contextlib.nullcontext():
            screen = camera.project(vertices)
            if faces.dim() == 3 and faces.shape[0] != screen.shape[0]:
                faces = faces.expand(screen.shape[0], -1, -1)
            out = self.rasterize_mesh(screen, faces)
        if skip and torch.is_grad_enabled() and vertices.requires_grad:
            return _ZeroGradient.apply(vertices, out)
        return out

    def rasterize_mesh(self, screen_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Silhouettes ``[B, H, W]`` of screen-space vertices ``[B, V, 3]`` (frame of
        :meth:`rasterize`) joined by int64 ``faces`` ``[F, 3]`` or ``[B, F, 3]``
        (validated, batch matched): :meth:`render`'s last step.  The default is
        ``rasterize(gather_faces(screen_vertices, faces))``; a renderer that can reuse
        what depends on the topology alone (fixed over a training run) overrides it,
        with the same output and gradients bit for bit (:mod:`renderers.topology_cache`)."""
        return self.rasterize(gather_faces(screen_vertices, faces))

    def pairs_evaluated(self, face_vertices: torch.Tensor) -> float:
        """Pixel-face pairs one forward call on ``face_vertices`` ``[B, F, 3, 3]``
        evaluates (see :attr:`cost`); NaN when the renderer does not say."""
        return math.nan

    @classmethod
    def describe(cls, name: str | None = None) -> RendererInfo:
        """This class's self-description (:class:`renderers.options.RendererInfo`)."""
        return RendererInfo(name=name or cls.name, family=cls.family,
                            sharpness=cls.sharpness, options=cls.options,
                            forward_model=cls.forward_model, gradient_rule=cls.gradient_rule,
                            paper=cls.paper, cost=cls.cost, cost_class=cls.cost_class,
                            samples=cls.samples, slow=cls.slow, tuned_from=cls.tuned_from,
                            order=cls.order)

    @classmethod
    def check_option(cls, option: str, value):
        """``value`` validated by the declared option named ``option``
        (:meth:`renderers.options.Option.validate`); ``KeyError`` when undeclared."""
        return cls.describe().option(option).validate(value)

    def __repr__(self) -> str:
        opts = "".join(f", {o.name}={getattr(self, o.name, o.default)!r}"
                       for o in self.options or ())
        return f"{type(self).__name__}(image_size={self.image_size}{opts})"


_REGISTRY: dict[str, Callable[..., object]] = {}


def register(name: str, factory: Callable[..., object] | None = None):
    """Register a renderer class (or factory) under ``name``; usable as a decorator.

    The class must provide ``rasterize`` and ``render`` (subclass :class:`Rasterizer`);
    a declared ``family`` must be one of :data:`renderers.options.FAMILIES` and a
    declared ``sharpness`` one of its ``options``.  A name already registered to another
    renderer (a built-in's, say) is refused naming both.  The output of each instance's
    first call is checked against the interface contract (:mod:`renderers.contract`).
    """

    def _do(f):
        _check_name_free(name, f)
        if isinstance(f, type):
            for method in ("rasterize", "render"):
                if not callable(getattr(f, method, None)):
                    raise TypeError(f"renderer {name!r} must define a {method}() method")
            family = getattr(f, "family", "")
            if family and family not in FAMILIES:
                raise ValueError(f"renderer {name!r}: family {family!r} not in {FAMILIES}")
            sharp, opts = getattr(f, "sharpness", None), getattr(f, "options", None)
            if sharp is not None and sharp not in {o.name for o in opts or ()}:
                raise ValueError(f"renderer {name!r}: sharpness {sharp!r} is not one of "
                                 "its declared options")
            contract.install(f)
            if issubclass(f, Rasterizer):
                f.describe(name)  # the description's own checks (cost class, ...)
        _REGISTRY[name] = f
        return f

    return _do(factory) if factory is not None else _do


def _qualified(f) -> str:
    """``module.Qualname`` of a registered class or factory."""
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"


def _check_name_free(name: str, f) -> None:
    """Refuse to register ``f`` under a ``name`` another renderer holds (re-registering
    the same definition, e.g. a reloaded module, is allowed)."""
    old = _REGISTRY.get(name)
    if old is None or old is f or _qualified(old) == _qualified(f):
        return
    raise ValueError(f"renderer name {name!r} is already registered by {_qualified(old)}; "
                     f"{_qualified(f)} may not replace it: register it under another name")


def available() -> list[str]:
    """Names of the registered renderers (optional peers included where installed,
    see :mod:`renderers.peers`)."""
    return sorted(_REGISTRY)


def unknown_message(name: str) -> str:
    """Why ``name`` is not a registered renderer, in one line: an optional peer whose
    package is missing says so and how to install it (:func:`renderers.peers.not_installed`),
    anything else is unknown (the registered names listed)."""
    from .peers import not_installed  # here: the peers module imports this one

    return not_installed(name) or f"unknown renderer {name!r}; available: {available()}"


def _factory(name: str):
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise KeyError(unknown_message(name)) from None


def describe(name: str) -> RendererInfo:
    """The self-description of the renderer registered as ``name``
    (:class:`renderers.options.RendererInfo`); a factory that is not a
    :class:`Rasterizer` subclass gets an undeclared one (no options, no sharpness)."""
    f = _factory(name)
    if isinstance(f, type) and issubclass(f, Rasterizer):
        return f.describe(name)
    return RendererInfo(name=name, family=str(getattr(f, "family", "")),
                        sharpness=getattr(f, "sharpness", None),
                        options=getattr(f, "options", None))


#: Optional renderers known but not registered (an absent peer's adapter class, which
#: describes itself without its package): name -> class (:func:`note_absent`).
_ABSENT: dict[str, type] = {}


def note_absent(name: str, cls: type) -> None:
    """Record ``cls`` as the description of the optional renderer ``name`` that is not
    registered here (its package is absent), for :func:`names` with ``absent=True``."""
    _ABSENT[name] = cls


def descriptions(*, absent: bool = False) -> list[RendererInfo]:
    """The self-description of every registered renderer in display order (``order``,
    then name); ``absent``: also the optional peers known but not installed
    (:mod:`renderers.peers`, described by their adapters)."""
    infos = [describe(n) for n in available()]
    if absent:
        infos += [c.describe(n) for n, c in _ABSENT.items() if n not in _REGISTRY]
    return sorted(infos, key=lambda i: (i.order, i.name))


def names(*, slow: bool | None = None, family: str | None = None,
          cost_class: str | None = None, absent: bool = False) -> list[str]:
    """Renderer names in display order (:func:`descriptions`), filtered by the facts
    each renderer declares (:mod:`renderers.options`): ``slow``, ``family``,
    ``cost_class`` (``None``: any).  ``absent``: include the optional peers that are
    known but not installed; by default only the registered.  E.g.
    ``names(slow=False)``: the renderers the main job trains by default."""
    return [i.name for i in descriptions(absent=absent)
            if (slow is None or i.slow == slow) and (family is None or i.family == family)
            and (cost_class is None or i.cost_class == cost_class)]


def accepts_option(name: str, option: str) -> bool:
    """Whether the renderer registered as ``name`` declares the option ``option``
    (``image_size`` always; undeclared plugins: only ``image_size``)."""
    info = describe(name)
    return option == "image_size" or option in {o.name for o in info.options or ()}


def _check_option_names(info: RendererInfo, options: dict) -> None:
    if info.options is None:
        return
    known = [o.name for o in info.options]
    unknown = [k for k in options if k not in known]
    if unknown:
        hint = (" (renderers have no device option: they run on the device of the tensors "
                "they are given)" if "device" in unknown else "")
        raise TypeError(f"renderer {info.name!r} has no option(s) {unknown}{hint}; accepted: "
                        f"{['image_size'] + known}")


#: ``image_size`` not given to :func:`build` (``None`` is a value, and refused).
_DEFAULT_SIZE = object()


def build(name: str, image_size=_DEFAULT_SIZE, sharpness: float | None = None, **options):
    """A renderer instance from its registered ``name`` plus settings.

    ``image_size``: pixels, int or ``(H, W)`` (the renderer's default when not given);
    ``sharpness``: value of the renderer's sharpness option (``sigma`` for ``softras``;
    ignored by renderers without one, e.g. ``hard``); ``options``: the renderer's other
    declared options.  An unknown option raises ``TypeError`` listing the accepted ones;
    bad values raise the renderer's own ``ValueError`` / ``TypeError``.  The instance's
    first output is checked against the interface contract (:mod:`renderers.contract`).
    """
    info = describe(name)
    _check_option_names(info, options)
    if sharpness is not None and info.sharpness is not None:
        if info.sharpness in options:
            raise TypeError(f"renderer {name!r}: give either sharpness or "
                            f"{info.sharpness}, not both")
        options[info.sharpness] = sharpness
    if image_size is not _DEFAULT_SIZE:
        options["image_size"] = image_size
    renderer = _factory(name)(**options)
    contract.install(type(renderer))  # e.g. a factory's class, or one put in the registry
    try:
        setattr(renderer, contract.NAME_ATTRIBUTE, name)
    except AttributeError:  # __slots__: messages name the class
        pass
    return renderer


def get(name: str, **options):
    """A renderer instance by name with its keyword options (e.g. ``image_size``,
    ``sigma``); :func:`build` without the ``sharpness`` shortcut."""
    return build(name, **options)
