"""The on-disk layout of the ShapeNet benchmark of N3MR and SoftRas, and its mapping to
this project's conventions.

Files (one pair per category and split, in one directory)::

    {class_id}_{split}_images.npz   uint8 [N, 24, 4, 64, 64]
    {class_id}_{split}_voxels.npz   bool (or uint8 0/1) [N, 32, 32, 32]

Each ``.npz`` holds one array under the key ``arr_0`` (``np.savez_compressed(path, a)``;
the official loaders take the file's first array).  ``split`` is ``train``, ``val`` or
``test``.

Images: object ``n``, view ``v`` (camera :meth:`renderers.Camera.benchmark` ``(v)``:
elevation 30, distance 2.732, azimuth ``-15 v`` degrees, viewing angle 15), channels
first, row 0 = top of the image (as :mod:`renderers.grid`).  Channel 3 is the
silhouette (alpha, 255 = object).  Channels 0-2 follow the official ``make_dataset.py``:
the rendering composited on white and then *inverted*, ``rgb = 255 * alpha * (1 -
colour)``, so the background is 0 in all four channels.  Loaders divide by 255.

Voxels: the official evaluation (``evaluate_iou`` of N3MR and SoftRas) voxelizes a
predicted mesh with axis order ``[x, y, z]`` and then compares
``pred.transpose(0, 2, 1, 3)[:, :, :, ::-1]`` with the file, i.e. a file's voxel
``[a, b, c]`` is world ``(x, y, z) = (b, a, R-1-c)`` in voxel units.  This project's
grid (:mod:`metrics.voxel_grid`) is ``[i, j, k] -> (x, y, z)``, hence

    ours[i, j, k] = file[j, i, R-1-k]      (:func:`voxels_from_file`)
    file[a, b, c] = ours[b, a, R-1-c]      (:func:`voxels_to_file`, the same operation)

(The official voxelizer's cells are 1/31 wide with centres from -0.5 to 0.5, ours are
1/32 wide with centres from -0.5 + 1/64; index ``i`` of one is index ``i`` of the other,
mirrored the same way about the centre, so only the cell size differs by 3%.)
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from bench_softras.atomic import write_npz
from bench_softras.errors import UserError

from .cache_check import npz_content_digest

SPLITS: tuple[str, ...] = ("train", "val", "test")
NUM_VIEWS = 24
#: Views a mesh fit may use: the data set's 24 plus a second ring, ids 24..47, seen
#: from below (:func:`bench_softras.experiments.multiview.fitting_views`).
MAX_FIT_VIEWS = 2 * NUM_VIEWS
NUM_CHANNELS = 4
IMAGE_SIZE = 64
VOXEL_RESOLUTION = 32
#: The key of the one array in every benchmark ``.npz`` (``np.savez_compressed(p, a)``).
NPZ_KEY = "arr_0"

_CLASS_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
_FILE_RE = re.compile(r"^(?P<cid>.+)_(?P<split>train|val|test)_(?P<kind>images|voxels)\.npz$")


class DatasetFileError(UserError, ValueError):
    """A benchmark file is missing or malformed; the message names the file and what
    is expected."""


def check_class_id(class_id: str) -> str:
    """A class id usable in file names: letters, digits, ``.``, ``-`` (no ``_`` or
    ``/``); e.g. ``03001627`` or ``user``."""
    if not isinstance(class_id, str) or not _CLASS_ID_RE.match(class_id):
        raise ValueError(
            f"class id {class_id!r} is not usable in a file name: use letters, digits, "
            "'.' and '-' (no '_' or '/')"
        )
    return class_id


def check_split(split: str) -> str:
    """``split`` must be one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def images_path(directory: str | Path, class_id: str, split: str) -> Path:
    """``directory / '{class_id}_{split}_images.npz'``."""
    return Path(directory) / f"{class_id}_{split}_images.npz"


def voxels_path(directory: str | Path, class_id: str, split: str) -> Path:
    """``directory / '{class_id}_{split}_voxels.npz'``."""
    return Path(directory) / f"{class_id}_{split}_voxels.npz"


def find_class_ids(directory: str | Path, split: str) -> list[str]:
    """Sorted class ids that have an images file for ``split`` in ``directory``."""
    check_split(split)
    found = []
    for p in Path(directory).iterdir():
        m = _FILE_RE.match(p.name)
        if m and m["split"] == split and m["kind"] == "images":
            found.append(m["cid"])
    return sorted(found)


def voxels_from_file(voxels: np.ndarray) -> np.ndarray:
    """Benchmark-file voxels ``[..., R, R, R]`` -> this project's convention
    (``ours[i, j, k] = file[j, i, R-1-k]``, module docstring).  Returns a view."""
    v = np.asarray(voxels)
    if v.ndim < 3 or not (v.shape[-1] == v.shape[-2] == v.shape[-3]):
        raise ValueError(f"voxels must end in three equal axes [R, R, R], got {v.shape}")
    return np.swapaxes(v, -3, -2)[..., ::-1]


def voxels_to_file(voxels: np.ndarray) -> np.ndarray:
    """This project's voxels ``[..., R, R, R]`` -> the benchmark files' orientation
    (``file[a, b, c] = ours[b, a, R-1-c]``; the mapping is its own inverse)."""
    return voxels_from_file(voxels)


def read_npz_array(path: str | Path) -> np.ndarray:
    """The single array ``arr_0`` of a benchmark ``.npz`` file.

    Raises :class:`DatasetFileError` naming ``path`` when it is missing, not a readable
    ``.npz`` archive, or does not hold an ``arr_0`` array.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"{path}: file not found (expected a .npz written by "
                               f"np.savez_compressed(path, array))")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(16)
        raise DatasetFileError(f"{path}: not a .npz archive (a .npz is a zip file; this one "
                               f"starts with {head!r}); re-create it with "
                               "np.savez_compressed(path, array)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            if NPZ_KEY not in keys:
                raise DatasetFileError(
                    f"{path}: holds arrays {keys}, expected one array under key "
                    f"{NPZ_KEY!r} (as written by np.savez_compressed(path, array))"
                )
            return npz[NPZ_KEY]
    except DatasetFileError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):  # an object array: not what a benchmark file holds
            raise DatasetFileError(f"{path}: holds a Python-object (pickled) array, not a "
                                   "plain uint8/bool array; re-create it with "
                                   "np.savez_compressed(path, array)") from exc
        raise DatasetFileError(f"{path}: not a readable .npz archive ({exc})") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise DatasetFileError(f"{path}: not a readable .npz archive ({exc})") from exc


def check_images(images: np.ndarray, path: str | Path) -> np.ndarray:
    """Validate benchmark images read from ``path``: uint8 ``[N, 24, 4, S, S]``, N >= 1.
    Returns them unchanged; raises :class:`DatasetFileError` naming the file."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise DatasetFileError(f"{path}: images must be uint8, got dtype "
                               f"{getattr(images, 'dtype', type(images).__name__)}")
    if (images.ndim != 5 or images.shape[1] != NUM_VIEWS or images.shape[2] != NUM_CHANNELS
            or images.shape[3] != images.shape[4]):
        raise DatasetFileError(
            f"{path}: images must have shape [N, {NUM_VIEWS}, {NUM_CHANNELS}, S, S] "
            f"(objects, views, RGBA, rows, columns), got {list(images.shape)}"
        )
    if images.shape[0] == 0:
        raise DatasetFileError(f"{path}: holds no objects (N = 0)")
    if not images[:, :, 3].any():
        raise DatasetFileError(f"{path}: every silhouette (channel 3) is empty: no object is "
                               "visible in any view; re-render the data set (degenerate "
                               "images would make every IoU 0)")
    return images


def check_voxels(voxels: np.ndarray, path: str | Path) -> np.ndarray:
    """Validate benchmark voxels read from ``path``: bool or uint8 (0/1)
    ``[N, R, R, R]``, N >= 1.  Returns them as bool (file orientation)."""
    if not isinstance(voxels, np.ndarray) or voxels.dtype not in (np.bool_, np.uint8):
        raise DatasetFileError(f"{path}: voxels must be bool or uint8 (0/1), got dtype "
                               f"{getattr(voxels, 'dtype', type(voxels).__name__)}")
    if voxels.ndim != 4 or not (voxels.shape[1] == voxels.shape[2] == voxels.shape[3]):
        raise DatasetFileError(
            f"{path}: voxels must have shape [N, R, R, R], got {list(voxels.shape)}")
    if voxels.shape[0] == 0:
        raise DatasetFileError(f"{path}: holds no objects (N = 0)")
    if voxels.dtype == np.uint8 and voxels.max() > 1:
        raise DatasetFileError(f"{path}: uint8 voxels must be 0 or 1, found {voxels.max()}")
    if not voxels.any():
        raise DatasetFileError(f"{path}: every voxel grid is empty (no occupied voxel in "
                               "any object); re-voxelize the data set (empty ground truth "
                               "would make every IoU 0)")
    return voxels.astype(bool, copy=False)


def write_split(directory: str | Path, class_id: str, split: str, images: np.ndarray,
                voxels_ours: np.ndarray) -> tuple[Path, Path]:
    """Write one category's split in the benchmark layout.

    ``images``: uint8 ``[N, 24, 4, S, S]`` (file convention, module docstring);
    ``voxels_ours``: bool ``[N, R, R, R]`` in this project's convention (written in the
    files' orientation).  Returns the two paths.
    """
    check_class_id(class_id)
    check_split(split)
    ip, vp = images_path(directory, class_id, split), voxels_path(directory, class_id, split)
    check_images(np.asarray(images), ip)
    vox = check_voxels(np.asarray(voxels_ours), vp)
    if vox.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} image sets but {vox.shape[0]} voxel grids")
    Path(directory).mkdir(parents=True, exist_ok=True)
    write_npz(ip, images)
    write_npz(vp, np.ascontiguousarray(voxels_to_file(vox)))
    return ip, vp


def data_fingerprint(data_dir: str | Path) -> str:
    """16 hex digits identifying a data directory's content, not its path: the SHA-256
    of the name and content digest (:func:`~.cache_check.npz_content_digest`: the
    arrays it holds, not the archive's time stamps) of every benchmark ``.npz`` in it.
    The same files in another folder or on another machine give the same fingerprint;
    a file replaced in place, added or removed gives another."""
    files = sorted(Path(data_dir).glob("*.npz"))
    listing = json.dumps([[f.name, npz_content_digest(f)] for f in files])
    return hashlib.sha256(listing.encode()).hexdigest()[:16]
