"""Data sets of the benchmark.

* The built-in synthetic data set: 13 procedural categories modelled on the ShapeNet
  classes of the paper (:mod:`.generators`, :mod:`.shapes`), rendered by a renderer the
  caller passes in and voxelized (:mod:`.views`, :mod:`.shading`), built and cached by
  :func:`build_synthetic` (:mod:`.synthetic`).
* The real ShapeNet benchmark files of N3MR / SoftRas (layout and voxel orientation in
  :mod:`.layout`), read by :func:`load_split` (:mod:`.loader`) into the one in-memory
  data set class, :class:`MultiViewData` -- the same loader serves the synthetic set.
* User meshes (OBJ/PLY/OFF/STL) turned into the same layout: :func:`build_from_meshes`.

>>> import renderers
>>> from bench_softras.data import build_synthetic, load_split
>>> path = build_synthetic(None, "smoke", renderers.get("hard", image_size=64))
>>> train = load_split(path, "train")   # images uint8 [N,24,4,64,64], voxels bool
"""

from .categories import BASE_COLORS, CATEGORIES, CLASS_IDS, base_color, category_name, class_id_of
from .generators import GENERATOR_VERSION, GENERATORS, SYNTHETIC_CLASS_IDS, generate, object_seed
from .layout import (
    NPZ_KEY,
    SPLITS,
    DatasetFileError,
    data_fingerprint,
    find_class_ids,
    images_path,
    read_npz_array,
    voxels_from_file,
    voxels_path,
    voxels_to_file,
    write_split,
)
from .loader import MultiViewData, load_split, read_category
from .shapes import Mesh
from .synthetic import (
    CACHE_ENV,
    PRESETS,
    SyntheticParams,
    build_synthetic,
    cache_key,
    default_cache_root,
    read_manifest,
    resolve_params,
    synthetic_object,
)
from .user_meshes import build_from_meshes, find_meshes, read_mesh
from .views import mesh_to_views, mesh_to_voxels

__all__ = [
    "BASE_COLORS",
    "CACHE_ENV",
    "CATEGORIES",
    "CLASS_IDS",
    "GENERATORS",
    "GENERATOR_VERSION",
    "NPZ_KEY",
    "PRESETS",
    "SPLITS",
    "SYNTHETIC_CLASS_IDS",
    "DatasetFileError",
    "data_fingerprint",
    "Mesh",
    "MultiViewData",
    "SyntheticParams",
    "base_color",
    "build_from_meshes",
    "build_synthetic",
    "cache_key",
    "category_name",
    "class_id_of",
    "default_cache_root",
    "find_class_ids",
    "find_meshes",
    "generate",
    "images_path",
    "load_split",
    "mesh_to_views",
    "mesh_to_voxels",
    "object_seed",
    "read_manifest",
    "read_mesh",
    "read_category",
    "read_npz_array",
    "resolve_params",
    "synthetic_object",
    "voxels_from_file",
    "voxels_path",
    "voxels_to_file",
    "write_split",
]
