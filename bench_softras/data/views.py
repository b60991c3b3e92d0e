"""One object -> its benchmark record: 24 RGBA views and ground-truth voxels.

The silhouette renderer is passed in (any registered renderer, e.g.
``renderers.get("hard", image_size=64)``); this module never picks one itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from metrics import voxelize
from renderers.camera import Camera

from .layout import NUM_VIEWS, VOXEL_RESOLUTION
from .shading import AMBIENT, DIFFUSE, lambert_images


def mesh_to_views(vertices: np.ndarray, faces: np.ndarray, renderer,
                  color: tuple[float, float, float] = (0.7, 0.7, 0.7)) -> np.ndarray:
    """The 24 benchmark views of one mesh in the files' image convention.

    ``vertices``: float ``[V, 3]`` world units (normalized into ``[-0.5, 0.5]^3``);
    ``faces``: int ``[F, 3]``; ``renderer``: an object with ``render(vertices [B, V, 3],
    faces [F, 3], camera) -> [B, H, W]`` in [0, 1] (a :mod:`renderers` renderer);
    ``color``: base RGB in [0, 1].

    Returns uint8 ``[24, 4, H, W]``: view ``v`` seen by ``Camera.benchmark(v)``; channel 3
    = ``round(255 * silhouette)`` from ``renderer``; channels 0-2 = ``255 * alpha * (1 -
    shaded colour)`` (inverted as in the official files, see
    :mod:`bench_softras.data.layout`), the shaded colour from
    :func:`~bench_softras.data.shading.lambert_images`.  Pixels the renderer covers but
    no face centre-covers (edge disagreements) get the mean shade.
    """
    camera = Camera.benchmark()
    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.int64)
    with torch.no_grad():
        alpha = renderer.render(v.unsqueeze(0), f, camera)
    alpha = alpha.detach().to("cpu", torch.float64)
    if alpha.dim() != 3 or alpha.shape[0] != NUM_VIEWS or alpha.shape[1] != alpha.shape[2]:
        raise ValueError(f"renderer returned shape {tuple(alpha.shape)}; expected "
                         f"[{NUM_VIEWS}, S, S] silhouettes")
    alpha = alpha.clamp(0.0, 1.0)
    size = int(alpha.shape[-1])
    rgb, covered = lambert_images(v.to(torch.float64), f, camera, color, size)
    mean_shade = torch.as_tensor(color, dtype=torch.float64)[None, :, None, None] * (
        AMBIENT + 0.5 * DIFFUSE)
    rgb = torch.where(covered[:, None], rgb, mean_shade)
    stored = alpha[:, None] * (1.0 - rgb)
    out = torch.cat([stored, alpha[:, None]], dim=1)
    return torch.round(out * 255.0).clamp(0, 255).to(torch.uint8).numpy()


def mesh_to_voxels(vertices: np.ndarray, faces: np.ndarray,
                   part_ids: np.ndarray | None = None,
                   resolution: int = VOXEL_RESOLUTION) -> np.ndarray:
    """Ground-truth voxels of one mesh in this project's convention
    (:mod:`metrics.voxel_grid`): bool ``[R, R, R]``, voxel occupied iff its centre is
    inside the mesh (:func:`metrics.voxelize`).  ``part_ids`` int ``[F]``: the mesh's
    closed parts (their union is voxelized); ``None``: connected components."""
    parts = "components" if part_ids is None else np.asarray(part_ids, dtype=np.int64)
    return voxelize(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64),
                    resolution=resolution, parts=parts)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (None: leave as is), restoring the
    previous setting.  Building data sets runs many small tensor operations, which are
    ~10x faster single-threaded than with intra-op threads fighting over busy cores."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
