"""Turn a user's own meshes (OBJ, PLY, OFF, STL) into the benchmark layout, so the
suite can be run on any shapes: each mesh is normalized like ShapeNet, rendered in the
24 benchmark views and voxelized, exactly as the synthetic objects."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from bench_softras.atomic import write_json
from metrics.open3d_import import open3d

from .categories import base_color
from .layout import (
    IMAGE_SIZE,
    NUM_CHANNELS,
    NUM_VIEWS,
    VOXEL_RESOLUTION,
    check_class_id,
    check_split,
    write_split,
)
from .shapes import Mesh, normalize
from .views import mesh_to_views, mesh_to_voxels, torch_threads

#: File suffixes read by open3d's ``read_triangle_mesh``.
MESH_SUFFIXES: tuple[str, ...] = (".obj", ".ply", ".off", ".stl")


def find_meshes(paths_or_dir: str | Path | Iterable[str | Path]) -> list[Path]:
    """Mesh files from a directory (searched recursively, sorted), a single file, or a
    list of files and directories.  Raises ``FileNotFoundError`` for a missing path and
    ``ValueError`` when no mesh file is found or a file has an unsupported suffix."""
    items = [paths_or_dir] if isinstance(paths_or_dir, (str, Path)) else list(paths_or_dir)
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*")
                            if f.is_file() and f.suffix.lower() in MESH_SUFFIXES)
        elif p.is_file():
            if p.suffix.lower() not in MESH_SUFFIXES:
                raise ValueError(f"{p}: unsupported mesh format {p.suffix!r}; expected one "
                                 f"of {MESH_SUFFIXES}")
            found.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such mesh file or directory")
    if not found:
        raise ValueError(f"no mesh files ({', '.join(MESH_SUFFIXES)}) found in "
                         f"{[str(i) for i in items]}")
    return found


def read_mesh(path: str | Path) -> Mesh:
    """Read a triangle mesh with open3d; vertices float64 ``[V, 3]``, faces int64
    ``[F, 3]``, one part (ids all 0; voxelization uses connected components).
    Raises ``ValueError`` naming the file when it holds no triangles."""
    o3d = open3d()
    path = Path(path)
    mesh = o3d.io.read_triangle_mesh(str(path))
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.triangles, dtype=np.int64)
    if v.shape[0] == 0 or f.shape[0] == 0:
        raise ValueError(f"{path}: no triangles could be read (is it a triangle mesh in "
                         f"one of {MESH_SUFFIXES}?)")
    return Mesh(v, f, np.zeros(f.shape[0], dtype=np.int64))


def build_from_meshes(paths_or_dir: str | Path | Iterable[str | Path], out_dir: str | Path,
                      renderer, class_id: str = "user", split: str = "test", *,
                      color: tuple[float, float, float] | None = None,
                      voxel_resolution: int = VOXEL_RESOLUTION,
                      progress: bool = True, num_threads: int | None = 1) -> Path:
    """Render and voxelize user meshes into ``out_dir`` in the benchmark layout.

    Each mesh (see :func:`find_meshes`) is normalized like ShapeNet (bounding box
    centred, diagonal 1, so inside ``[-0.5, 0.5]^3``), rendered in the 24 benchmark views
    by ``renderer`` (e.g. ``renderers.get("hard", image_size=64)``) with Lambert shading,
    and voxelized (union of connected components, :func:`metrics.voxelize`).  Writes
    ``{class_id}_{split}_images.npz``, ``..._voxels.npz`` and
    ``{class_id}_{split}_sources.json`` (the source file of each object, in order).
    ``num_threads``: torch threads while building (default 1; None: unchanged).
    Returns ``out_dir``; load it with ``load_split(out_dir, split, [class_id])``.
    """
    check_class_id(class_id)
    check_split(split)
    files = find_meshes(paths_or_dir)
    size = int(getattr(renderer, "height", IMAGE_SIZE))
    rgb = base_color(class_id) if color is None else color
    images = np.zeros((len(files), NUM_VIEWS, NUM_CHANNELS, size, size), dtype=np.uint8)
    voxels = np.zeros((len(files),) + (voxel_resolution,) * 3, dtype=bool)
    with torch_threads(num_threads):
        for i, path in enumerate(tqdm(files, desc="user meshes", unit="mesh",
                                      disable=not progress)):
            mesh = normalize(read_mesh(path))
            images[i] = mesh_to_views(mesh.vertices, mesh.faces, renderer, rgb)
            voxels[i] = mesh_to_voxels(mesh.vertices, mesh.faces, None, voxel_resolution)
    out = Path(out_dir)
    write_split(out, class_id, split, images, voxels)
    write_json(out / f"{class_id}_{split}_sources.json", [str(f) for f in files])
    return out
