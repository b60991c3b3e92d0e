"""Renderer self-description: declared options and what a renderer is.

Every registered renderer class declares (as class attributes, see
:class:`renderers.Rasterizer`):

* ``options``: a tuple of :class:`Option` (name, type, default, valid range, doc);
  ``image_size`` is common to all and not listed;
* ``sharpness``: the name of the option that sets how soft the silhouette is
  (``sigma`` for ``softras``), or ``None`` for renderers without one (``hard``, ``n3mr``);
* ``family``: one of :data:`FAMILIES`;
* ``forward_model`` / ``gradient_rule``: one line each; ``paper``: the source;
* ``pairs_evaluated(face_vertices)``: the pixel-face pairs one forward call evaluates;
* ``cost_class``: one of :data:`COST_CLASSES` (``culled``, ``dense``, ``monte_carlo``;
  the timing study caps the last two, :meth:`RendererInfo.capped_work`), with
  ``samples``: the option counting samples per pixel of a ``monte_carlo`` renderer;
* ``slow``: a slow reference (opt-in in reconstruction, a reduced budget in fitting);
* ``tuned_from``: the renderer whose tuned settings a slow reference borrows (``None``:
  swept itself);
* ``order``: display order in tables and figures (smaller first; ties by name).

Every default list of renderers in :mod:`bench_softras` is a query over these facts
(:func:`renderers.names`), so adding a renderer touches its own package and the one
line of :mod:`renderers` that imports it.

:func:`renderers.describe` turns a registered name into a :class:`RendererInfo`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Renderer families: ``soft`` (a smooth forward, its exact gradient), ``approximate``
#: (a hard forward with a hand-made gradient rule), ``exact`` (the true gradient of a
#: hard forward: zero) and ``estimator`` (a hard forward, an estimate of the gradient of
#: the pixel-area coverage).
FAMILIES = ("soft", "approximate", "exact", "estimator")

#: How a renderer's work per call grows (``cost_class``): ``culled`` (only pixel-face
#: pairs near each face: cheap, never capped), ``dense`` (every pixel-face pair,
#: ``B*F*H*W``) and ``monte_carlo`` (``B*H*W*spp`` samples); name -> what the timing
#: study counts for the cost cap (empty: not capped).
COST_CLASSES = {"culled": "", "dense": "B*F*H*W pixel-face pairs",
                "monte_carlo": "B*H*W*spp rays"}
#: ``order`` of a renderer that declares none (after every built-in one).
UNORDERED = 1000


@dataclass(frozen=True)
class Option:
    """One keyword option of a renderer.

    ``type``: ``float``, ``int`` or ``str``; ``low`` / ``high``: bounds of a number
    (``None`` = unbounded), excluded when ``low_open`` / ``high_open``; ``choices``: the
    accepted values of a ``str`` option; ``doc``: meaning and units."""

    name: str
    type: type
    default: float | int | str
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def valid_range(self) -> str:
        """The accepted values: interval notation for numbers, e.g. ``(0, inf)``, or
        ``one of [...]`` for a ``str`` option."""
        if self.type is str:
            return f"one of {list(self.choices)}"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if self.low is None or self.low_open else "["
        right = ")" if self.high is None or self.high_open else "]"
        return f"{left}{lo}, {hi}{right}"

    def validate(self, value):
        """``value`` converted to :attr:`type`; ``TypeError`` / ``ValueError`` naming
        the option and its valid range otherwise."""
        if self.type is str:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"{self.name} must be {self.valid_range()}, got {value!r}")
            return value
        if isinstance(value, bool) or (self.type is int and isinstance(value, float)
                                       and not float(value).is_integer()):
            raise TypeError(f"{self.name} must be {self.type.__name__} in "
                            f"{self.valid_range()}, got {value!r}")
        try:
            v = self.type(value)
        except (TypeError, ValueError):
            raise TypeError(f"{self.name} must be {self.type.__name__} in "
                            f"{self.valid_range()}, got {value!r}") from None
        bad = isinstance(v, float) and not math.isfinite(v)
        if self.low is not None:
            bad = bad or v < self.low or (self.low_open and v == self.low)
        if self.high is not None:
            bad = bad or v > self.high or (self.high_open and v == self.high)
        if bad:
            raise ValueError(f"{self.name} must be a finite {self.type.__name__} in "
                             f"{self.valid_range()}, got {value}")
        return v


@dataclass(frozen=True)
class RendererInfo:
    """What :func:`renderers.describe` returns for a registered renderer."""

    name: str
    family: str
    sharpness: str | None
    options: tuple[Option, ...] | None
    forward_model: str = ""
    gradient_rule: str = ""
    paper: str = ""
    cost: str = ""
    cost_class: str = "culled"
    samples: str | None = None
    slow: bool = False
    tuned_from: str | None = None
    order: int = UNORDERED

    def __post_init__(self) -> None:
        if self.cost_class not in COST_CLASSES:
            raise ValueError(f"renderer {self.name!r}: cost_class {self.cost_class!r} not in "
                             f"{tuple(COST_CLASSES)}")
        if self.cost_class == "monte_carlo":
            names = {o.name for o in self.options or ()}
            if self.samples not in names:
                raise ValueError(f"renderer {self.name!r}: a monte_carlo renderer names its "
                                 f"samples-per-pixel option in `samples` (one of {sorted(names)})")
        if self.tuned_from == self.name:
            raise ValueError(f"renderer {self.name!r} cannot borrow its tuning from itself")

    def capped_work(self, batch: int, faces: int, size: int) -> tuple[str, int] | None:
        """``(what is counted, its count)`` per call at ``batch`` images of ``faces``
        faces at ``size`` x ``size`` pixels for the cost classes the timing study caps
        (``dense``, ``monte_carlo``: :data:`COST_CLASSES`); ``None`` for ``culled``."""
        what = COST_CLASSES[self.cost_class]
        if not what:
            return None
        if self.cost_class == "dense":
            return what, batch * faces * size * size
        return what, batch * size * size * int(self.option(self.samples).default)

    def option(self, name: str) -> Option:
        """The declared :class:`Option` ``name`` (``KeyError`` when absent)."""
        for opt in self.options or ():
            if opt.name == name:
                return opt
        raise KeyError(f"renderer {self.name!r} has no option {name!r}")

    def defaults(self) -> dict:
        """``{option name: default}`` of the declared options."""
        return {o.name: o.default for o in self.options or ()}
