"""Random triangle soups for the renderer tests (a module of its own, not conftest:
several test folders have a conftest, and ``from conftest import`` finds whichever
was imported first)."""

import torch


def random_faces(batch: int, faces: int, dtype=torch.float64, seed: int = 0,
                 scale: float = 0.8) -> torch.Tensor:
    """Random triangles ``[B, F, 3, 3]`` in screen space (x, y in [-scale, scale],
    depth z in [1, 2]); random windings, so about half are back-facing, and they
    overlap."""
    g = torch.Generator().manual_seed(seed)
    fv = (torch.rand(batch, faces, 3, 3, generator=g, dtype=torch.float64) * 2 - 1) * scale
    fv[..., 2] = 1.0 + torch.rand(batch, faces, 3, generator=g, dtype=torch.float64)
    return fv.to(dtype)
