"""The interface contract every registered renderer's output is checked against.

``rasterize(face_vertices)`` and ``render(vertices, faces, camera)`` must return
silhouettes ``[B, H, W]`` (``B`` the input's batch, ``H, W`` the renderer's image size)
of the input's float dtype, on the input's device, finite, with values in ``[0, 1]``
(up to :data:`RANGE_TOLERANCE` of rounding).  A user's plugin that breaks it would
otherwise be scored: a NaN silhouette thresholds to empty, values above 1 inflate the
soft IoU.

The check is cheap: :func:`install` wraps a renderer class's ``rasterize`` and
``render`` once (at :func:`renderers.register` and :func:`renderers.build`), and the
wrapper checks the first output of each instance only (a flag in the instance's
``__dict__``).  A violation raises :class:`RendererContractError` naming the renderer,
its class and what is wrong.
"""

from __future__ import annotations

import functools
import inspect
import math

import torch

#: Output values may exceed ``[0, 1]`` by this much (float rounding of a coverage sum).
RANGE_TOLERANCE = 1e-5
#: Attribute marking a wrapped method (so a class is wrapped once).
_WRAPPED = "_softras_contract_wrapped"
#: Instance ``__dict__`` key set once the instance's first output passed the check.
_CHECKED = "_softras_contract_checked"
#: Instance attribute holding the registry name the instance was built under.
NAME_ATTRIBUTE = "_registry_name"


class RendererContractError(ValueError):
    """A renderer returned output that breaks the interface contract (module docstring).
    ``user_error``: the command line reports it in one line (exit status 2), as the
    renderer is the user's plugin or a renderer option the user chose."""

    user_error = True


def renderer_label(renderer) -> str:
    """``'name' (module.Class)`` of a renderer instance, for messages."""
    cls = type(renderer)
    name = getattr(renderer, NAME_ATTRIBUTE, None) or getattr(cls, "name", None) or cls.__name__
    return f"{name!r} ({cls.__module__}.{cls.__qualname__})"


def _expected(method: str, args: tuple, kwargs: dict) -> tuple[int | None, torch.Tensor | None]:
    """``(batch B or None, the input tensor giving dtype and device or None)`` of a call."""
    first = args[0] if args else kwargs.get("face_vertices" if method == "rasterize"
                                            else "vertices")
    if not torch.is_tensor(first):
        return None, None
    if method == "rasterize":
        return (int(first.shape[0]) if first.dim() else None), first
    camera = args[2] if len(args) > 2 else kwargs.get("camera")
    nb = int(first.shape[0]) if first.dim() == 3 else 1
    views = camera.batch_size() if callable(getattr(camera, "batch_size", None)) else 1
    return max(nb, views), first


def contract_problem(renderer, method: str, args: tuple, kwargs: dict, out) -> str | None:
    """What is wrong with ``out``, the result of ``renderer.<method>(*args, **kwargs)``,
    in words; ``None`` when it meets the contract (module docstring)."""
    if not torch.is_tensor(out):
        return f"returned a {type(out).__name__}, not a torch.Tensor"
    batch, given = _expected(method, args, kwargs)
    hw = (getattr(renderer, "height", None), getattr(renderer, "width", None))
    want = [batch if batch is not None else "B", *(s if isinstance(s, int) else "?" for s in hw)]
    if out.dim() != 3 or any(isinstance(w, int) and w != s for w, s in zip(want, out.shape,
                                                                           strict=False)):
        return f"returned shape {list(out.shape)}, expected [B, H, W] = {want}"
    if given is not None and out.dtype != given.dtype:
        return f"returned dtype {out.dtype} for {given.dtype} input (expected the input's dtype)"
    if given is not None and out.device != given.device:
        return f"returned a tensor on {out.device} for input on {given.device}"
    if not out.is_floating_point():
        return f"returned dtype {out.dtype}, not a float silhouette"
    if not out.numel():
        return None
    with torch.no_grad():  # one pass: NaN propagates to the minimum, Inf is an extreme
        lo, hi = (float(v) for v in torch.aminmax(out.detach()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = int((~torch.isfinite(out.detach())).sum())
            return f"returned {bad} NaN/Inf values (of {out.numel()})"
    if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
        return f"returned values in [{lo:.4g}, {hi:.4g}], outside [0, 1]"
    return None


def check_output(renderer, method: str, args: tuple, kwargs: dict, out) -> None:
    """Raise :class:`RendererContractError` when ``out`` breaks the contract."""
    problem = contract_problem(renderer, method, args, kwargs, out)
    if problem:
        raise RendererContractError(
            f"renderer {renderer_label(renderer)} broke the renderer contract: {method}() "
            f"{problem}; a renderer must return finite silhouettes [B, H, W] in [0, 1] of "
            "its input's dtype and device (docs/renderers.md, 'Adding a renderer')")


def _checked(fn, method: str):
    """``fn`` (a renderer method) that checks the first output of each instance."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        state = getattr(self, "__dict__", None)
        if state is None or not state.get(_CHECKED, False):
            check_output(self, method, args, kwargs, out)
            if state is not None:
                state[_CHECKED] = True
        return out

    setattr(wrapper, _WRAPPED, True)
    return wrapper


def install(cls: type) -> None:
    """Wrap ``cls``'s ``rasterize`` and ``render`` (plain functions only, once) so that
    each instance's first output is checked (module docstring)."""
    for method in ("rasterize", "render"):
        fn = inspect.getattr_static(cls, method, None)
        if inspect.isfunction(fn) and not getattr(fn, _WRAPPED, False):
            setattr(cls, method, _checked(fn, method))
