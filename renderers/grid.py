"""The pixel grid: the single source of truth for where pixel centres lie.

Screen space is x right, y up, both in ``[-1, 1]``.  Image row 0 is the top
(``y = +1`` side), column 0 the left.  Pixel ``(i, j)`` of an ``H x W`` image has its
centre at ``x = (2j + 1 - W) / W``, ``y = (H - 1 - 2i) / H``.
"""

from __future__ import annotations

import operator

import numpy as np
import torch

#: Largest accepted image, in pixels per image (H * W): 4096 x 4096.  Larger images are
#: refused before any buffer is allocated (a float64 [H, W] buffer at this size is
#: 128 MiB; renderers hold several per image).
MAX_IMAGE_PIXELS = 4096 * 4096

_SIZE_HELP = ("image_size must be an int or an (H, W) pair of ints (Python, numpy or 0-d "
              "integer tensor values)")


def _side(value, image_size) -> int:
    """One image side as a Python int; refuses bools, floats, strings, arrays."""
    is_bool = isinstance(value, bool | np.bool_) or (
        torch.is_tensor(value) and value.dtype == torch.bool)
    if is_bool or isinstance(value, str | bytes) or (torch.is_tensor(value) and value.dim()):
        raise TypeError(f"{_SIZE_HELP}; got {image_size!r} ({type(image_size).__name__})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{_SIZE_HELP}; got {image_size!r} "
                        f"({type(image_size).__name__})") from None


def image_hw(image_size) -> tuple[int, int]:
    """Normalize an image size to ``(H, W)`` Python ints, in pixels.

    ``image_size``: an int (square image) or an ``(H, W)`` pair (tuple, list, or 1-d
    integer array/tensor of length 2); int-like values (numpy integers, 0-d integer
    tensors, anything with ``__index__``) are accepted.  Raises ``TypeError`` for
    anything else (bool, str, float, ...) and ``ValueError`` for a side < 1, a wrong
    number of sides, or more than :data:`MAX_IMAGE_PIXELS` pixels."""
    if isinstance(image_size, np.ndarray | torch.Tensor) and image_size.ndim == 1:
        sides = list(image_size)
    elif isinstance(image_size, tuple | list):
        sides = list(image_size)
    else:
        sides = [image_size, image_size]
    if len(sides) != 2:
        raise ValueError(f"{_SIZE_HELP}; got {len(sides)} values {image_size!r}")
    h, w = (_side(v, image_size) for v in sides)
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {h} x {w}")
    if h * w > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"image size {h} x {w} = {h * w} pixels exceeds renderers.grid.MAX_IMAGE_PIXELS "
            f"= {MAX_IMAGE_PIXELS} (4096 x 4096); render a smaller image"
        )
    return h, w


def pixel_centers(height: int, width: int, dtype=torch.float64, device=None):
    """Pixel-centre coordinates ``(xs [W], ys [H])`` in normalized screen units."""
    j = torch.arange(width, dtype=dtype, device=device)
    i = torch.arange(height, dtype=dtype, device=device)
    return (2 * j + 1 - width) / width, (height - 1 - 2 * i) / height


def pixel_edges(height: int, width: int, dtype=torch.float64, device=None):
    """Pixel-boundary coordinates ``(xs [W + 1], ys [H + 1])`` in normalized screen units:
    column ``j`` spans ``[xs[j], xs[j + 1]]``, row ``i`` spans ``[ys[i + 1], ys[i]]``
    (``ys`` runs from the top, ``y = +1``, down)."""
    j = torch.arange(width + 1, dtype=dtype, device=device)
    i = torch.arange(height + 1, dtype=dtype, device=device)
    return -1 + 2 * j / width, 1 - 2 * i / height


def pixel_grid(height: int, width: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """Pixel centres as ``[H, W, 2]`` (x, y) in normalized screen units."""
    xs, ys = pixel_centers(height, width, dtype, device)
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def column_of(x: float, width: int) -> float:
    """Continuous column coordinate of screen ``x`` (pixel ``j`` centre at ``j``)."""
    return (x * width + width - 1) / 2.0


def row_of(y: float, height: int) -> float:
    """Continuous row coordinate of screen ``y`` (pixel ``i`` centre at ``i``)."""
    return (height - 1 - y * height) / 2.0
