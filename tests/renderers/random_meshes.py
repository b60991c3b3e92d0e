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


REPEATED = slice(30, 35)  # faces of hard_faces() whose vertices 1 and 2 coincide


def hard_faces() -> torch.Tensor:
    """[2, 60, 3, 3] float64 faces: random, then slivers (a vertex 1e-6..1e-13 off the
    opposite edge), far vertices (1e3..1e7), zero-area and repeated-vertex faces, all
    in both windings."""
    fv = random_faces(2, 60, seed=5).double()
    g = torch.Generator().manual_seed(9)
    a, b = fv[:, 10:20, 0, :2], fv[:, 10:20, 1, :2]
    t = torch.rand(2, 10, 1, generator=g, dtype=torch.float64)
    off = 10.0 ** -torch.randint(6, 14, (2, 10, 1), generator=g).double()
    fv[:, 10:20, 2, :2] = a + t * (b - a) + off * torch.randn(2, 10, 2, generator=g,
                                                                    dtype=torch.float64)
    fv[:, 20:30, 0, :2] *= 10.0 ** torch.randint(3, 8, (2, 10, 1), generator=g).double()
    fv[:, REPEATED, 2] = fv[:, REPEATED, 1]
    fv[:, 35:40, 2, :2] = 2 * fv[:, 35:40, 1, :2] - fv[:, 35:40, 0, :2]  # collinear
    fv[:, 40:50] = fv[:, 10:20].flip(2)  # slivers, other winding
    fv[:, 50:55] = fv[:, 20:25].flip(2)
    return fv
