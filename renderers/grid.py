"""The pixel grid: the single source of truth for where pixel centres lie.

Screen space is x right, y up, both in ``[-1, 1]``.  Image row 0 is the top
(``y = +1`` side), column 0 the left.  Pixel ``(i, j)`` of an ``H x W`` image has its
centre at ``x = (2j + 1 - W) / W``, ``y = (H - 1 - 2i) / H``.
"""

from __future__ import annotations

import torch


def image_hw(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """Normalize an image size (int for square, or ``(H, W)``) to ``(H, W)``."""
    if isinstance(image_size, int):
        h = w = image_size
    else:
        h, w = (int(s) for s in image_size)
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {image_size}")
    return h, w


def pixel_centers(height: int, width: int, dtype=torch.float64, device=None):
    """Pixel-centre coordinates ``(xs [W], ys [H])`` in normalized screen units."""
    j = torch.arange(width, dtype=dtype, device=device)
    i = torch.arange(height, dtype=dtype, device=device)
    return (2 * j + 1 - width) / width, (height - 1 - 2 * i) / height


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
