"""Turn a user's own meshes (OBJ, PLY, OFF, STL) into the benchmark layout, so the
suite can be run on any shapes: each mesh is normalized like ShapeNet, rendered in the
24 benchmark views and voxelized, exactly as the synthetic objects."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from bench_softras.atomic import write_json
from bench_softras.errors import UserError
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
from .shapes import Mesh, mesh_problem, normalize
from .views import mesh_to_views, mesh_to_voxels, torch_threads

#: File suffixes read by open3d's ``read_triangle_mesh``.
MESH_SUFFIXES: tuple[str, ...] = (".obj", ".ply", ".off", ".stl")


#: What a mesh file must be, for messages.
EXPECTED_MESH = f"a triangle mesh file ({', '.join(MESH_SUFFIXES)})"


class MeshFileError(UserError, ValueError):
    """A mesh file the user named is missing or not a usable triangle mesh; the message
    names the file and what is expected."""


class MissingMeshError(MeshFileError, FileNotFoundError):
    """A mesh file the user named does not exist."""


def find_meshes(paths_or_dir: str | Path | Iterable[str | Path]) -> list[Path]:
    """Mesh files from a directory (searched recursively, sorted), a single file, or a
    list of files and directories.  Raises :class:`MeshFileError` for a missing path, a
    file with an unsupported suffix, or when no mesh file is found."""
    items = [paths_or_dir] if isinstance(paths_or_dir, (str, Path)) else list(paths_or_dir)
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*")
                            if f.is_file() and f.suffix.lower() in MESH_SUFFIXES)
        else:
            found.append(check_mesh_path(p))
    if not found:
        raise MeshFileError(f"no mesh files ({', '.join(MESH_SUFFIXES)}) found in "
                            f"{[str(i) for i in items]}")
    return found


def check_mesh_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it names an existing, non-empty file with
    a mesh suffix (:data:`MESH_SUFFIXES`); else :class:`MeshFileError` naming it."""
    p = Path(path)
    if p.is_dir():
        raise MeshFileError(f"{p}: is a directory; expected {EXPECTED_MESH}")
    if not p.exists():
        raise MissingMeshError(f"{p}: no such mesh file; expected {EXPECTED_MESH}")
    if p.suffix.lower() not in MESH_SUFFIXES:
        what = repr(p.suffix) if p.suffix else "a name without a suffix"
        raise MeshFileError(f"{p}: unsupported mesh format ({what}); expected {EXPECTED_MESH}")
    if p.stat().st_size == 0:
        raise MeshFileError(f"{p}: the file is empty; expected {EXPECTED_MESH}")
    return p


def read_mesh(path: str | Path) -> Mesh:
    """Read a triangle mesh with open3d; vertices float64 ``[V, 3]``, faces int64
    ``[F, 3]``, one part (ids all 0; voxelization uses connected components).
    Raises :class:`MeshFileError` naming the file when it is missing, empty, of another
    format, or holds no usable triangles (:func:`~bench_softras.data.shapes.mesh_problem`:
    a point cloud, NaN vertices, a face index out of range, a single point)."""
    o3d = open3d()
    p = check_mesh_path(path)
    # open3d reports a failed read as a warning on stdout (and returns an empty mesh):
    # silenced here, the error below says what is wrong instead.
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        mesh = o3d.io.read_triangle_mesh(str(p))
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.triangles, dtype=np.int64)
    problem = mesh_problem(v, f)
    if problem:
        raise MeshFileError(f"{p}: {problem}; expected {EXPECTED_MESH} with finite "
                            "vertices and at least one triangle of non-zero size")
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
