"""Build the renderer an experiment uses from a registered name or take an instance."""

from __future__ import annotations

import importlib

import renderers
from bench_softras.errors import UnknownNameError


def renderer_name(renderer) -> str:
    """The registry name of a renderer given by name or instance."""
    if isinstance(renderer, str):
        return renderer
    return str(getattr(renderer, "name", type(renderer).__name__))


def ensure_registered(name: str) -> None:
    """Register ``name`` by importing ``renderers.<name>`` when the package's
    ``__init__`` does not import that renderer module itself; ``KeyError`` if unknown
    (an optional peer that is not installed: saying so and how to install it)."""
    if name in renderers.available():
        return
    if name.isidentifier():
        try:
            importlib.import_module(f"renderers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"renderers.{name}":
                raise
    if name not in renderers.available():  # an absent peer: "not installed" and how
        raise UnknownNameError(renderers.base.unknown_message(name))


def accepts_sigma(name: str) -> bool:
    """Whether renderer ``name`` has a sharpness parameter (its self-description,
    :func:`renderers.describe`)."""
    ensure_registered(name)
    return renderers.describe(name).sharpness is not None


def make_renderer(renderer, image_size: int, sigma: float | None = None):
    """A renderer instance: ``renderer`` itself when it is one (its own image size and
    sigma are kept; a mismatching ``image_size`` raises ``ValueError``), else
    :func:`renderers.build` with ``sigma`` as the renderer's sharpness (ignored by
    renderers without one: hard, n3mr)."""
    if not isinstance(renderer, str):
        if not callable(getattr(renderer, "render", None)):
            raise TypeError(f"renderer must be a registered name or have render(); got "
                            f"{type(renderer).__name__}")
        hw = (getattr(renderer, "height", image_size), getattr(renderer, "width", image_size))
        if hw != (image_size, image_size):
            raise ValueError(f"renderer renders {hw[0]}x{hw[1]} images but the experiment "
                             f"uses {image_size}x{image_size}")
        return renderer
    ensure_registered(renderer)
    return renderers.build(renderer, image_size=image_size, sharpness=sigma)
