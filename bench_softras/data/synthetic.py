"""Build (and cache) the built-in synthetic data set in the ShapeNet benchmark layout.

Objects come from :mod:`bench_softras.data.generators`; each is rendered in the 24
benchmark views by the renderer the caller passes in (plus Lambert shading) and
voxelized by :func:`metrics.voxelize`; files are written as in
:mod:`bench_softras.data.layout`, so :func:`bench_softras.data.load_split` reads them
exactly like the real ShapeNet files.

Caching: a build is keyed by a hash of its parameters (counts, categories, seed, image
size, voxel resolution, generator and format versions, the renderer's description).
``build_synthetic(None, ...)`` writes to ``<cache root>/synthetic/<hash>/`` where the
cache root is ``$SOFTRAS_BENCH_DATA`` or ``~/.cache/softras-bench``; a directory whose
``manifest.json`` carries the same hash is reused, anything else is rebuilt.  The
manifest is written last, so an interrupted build is rebuilt on the next call.  The
manifest records the SHA-256 of every file (:mod:`.cache_check`); each use of the cache
verifies them and rebuilds the category splits whose files are missing or do not
match (truncated, zeroed, bit-flipped), with a warning naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from bench_softras.atomic import write_json
from bench_softras.errors import UserError

from .cache_check import MANIFEST, hash_files, mismatched_files
from .categories import base_color, category_name, class_id_of
from .generators import GENERATOR_VERSION, SYNTHETIC_CLASS_IDS, generate, object_seed
from .layout import (
    IMAGE_SIZE,
    NUM_CHANNELS,
    NUM_VIEWS,
    SPLITS,
    VOXEL_RESOLUTION,
    images_path,
    voxels_path,
    write_split,
)
from .shapes import Mesh
from .views import mesh_to_views, mesh_to_voxels, torch_threads

#: Bumped when rendering, shading or the file format change (part of the cache key).
FORMAT_VERSION = "2"  # 2: surface-inclusive ground-truth voxels
#: Environment variable overriding the cache root.
CACHE_ENV = "SOFTRAS_BENCH_DATA"


@dataclass(frozen=True)
class SyntheticParams:
    """What a synthetic data set holds.

    ``class_ids``: ShapeNet ids (or names) of the categories; ``num_train``,
    ``num_val``, ``num_test``: objects per category and split (>= 1); ``seed``: base
    seed (object ``i`` of a category and split has its own seed, see
    :func:`~bench_softras.data.generators.object_seed`); ``image_size``: pixels (must
    match the renderer); ``voxel_resolution``: voxels per axis; ``min_voxels``: an
    object with fewer occupied voxels (thin parts whose voxel centres all fall outside,
    e.g. a slab bench) is replaced by a fresh draw, so no ground truth is empty.
    """

    class_ids: tuple[str, ...] = SYNTHETIC_CLASS_IDS
    num_train: int = 64
    num_val: int = 8
    num_test: int = 16
    seed: int = 0
    image_size: int = IMAGE_SIZE
    voxel_resolution: int = VOXEL_RESOLUTION
    min_voxels: int = 32

    def __post_init__(self) -> None:
        ids = (self.class_ids,) if isinstance(self.class_ids, str) else self.class_ids
        ids = tuple(dict.fromkeys(class_id_of(c) for c in ids))
        if not ids:
            raise ValueError("a synthetic data set needs at least one category")
        object.__setattr__(self, "class_ids", ids)
        for name in ("num_train", "num_val", "num_test", "image_size", "voxel_resolution"):
            value = getattr(self, name)
            if int(value) != value or int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "seed", int(self.seed))
        if int(self.min_voxels) != self.min_voxels or not (
                0 <= int(self.min_voxels) <= self.voxel_resolution ** 3 // 8):
            raise ValueError(f"min_voxels must be an integer in [0, R^3/8], got "
                             f"{self.min_voxels!r}")
        object.__setattr__(self, "min_voxels", int(self.min_voxels))

    @property
    def counts(self) -> dict[str, int]:
        """Objects per category for each split."""
        return {"train": self.num_train, "val": self.num_val, "test": self.num_test}

    @property
    def num_objects(self) -> int:
        """Objects in the whole data set (all categories and splits)."""
        return len(self.class_ids) * sum(self.counts.values())

    def to_dict(self) -> dict:
        """JSON-able dict of the parameters."""
        d = dataclasses.asdict(self)
        d["class_ids"] = list(self.class_ids)
        return d


#: Named sizes.  ``smoke``: 2 categories x (4/2/2) objects, seconds.  ``cpu``: all 13
#: categories x (64/8/16), a few minutes on 2 cores.  ``large``: 13 x (512/64/128).
PRESETS: dict[str, SyntheticParams] = {
    "smoke": SyntheticParams(class_ids=("02691156", "03001627"), num_train=4, num_val=2,
                             num_test=2),
    "cpu": SyntheticParams(num_train=64, num_val=8, num_test=16),
    "large": SyntheticParams(num_train=512, num_val=64, num_test=128),
}


def resolve_params(params: str | SyntheticParams | Mapping = "cpu", **overrides
                   ) -> SyntheticParams:
    """A :class:`SyntheticParams` from a preset name (:data:`PRESETS`), an instance or a
    dict, with keyword ``overrides`` (e.g. ``num_train=16``) applied."""
    if isinstance(params, str):
        if params not in PRESETS:
            raise KeyError(f"unknown preset {params!r}; presets: {sorted(PRESETS)}")
        base = PRESETS[params]
    elif isinstance(params, SyntheticParams):
        base = params
    elif isinstance(params, Mapping):
        base = SyntheticParams(**params)
    else:
        raise TypeError(f"params must be a preset name, SyntheticParams or dict, got "
                        f"{type(params).__name__}")
    return dataclasses.replace(base, **overrides) if overrides else base


def describe_renderer(renderer) -> dict:
    """JSON-able identity of a renderer for the cache key: class, registry name, repr."""
    return {"class": f"{type(renderer).__module__}.{type(renderer).__qualname__}",
            "name": getattr(renderer, "name", None), "repr": repr(renderer)}


def cache_key(params: SyntheticParams, renderer) -> tuple[str, dict]:
    """``(hash, key dict)``: the hex digest (16 chars) identifying a build and the dict
    it hashes (parameters, generator/format versions, renderer description)."""
    key = {"params": params.to_dict(), "generator_version": GENERATOR_VERSION,
           "format_version": FORMAT_VERSION, "renderer": describe_renderer(renderer)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return digest, key


def default_cache_root() -> Path:
    """``$SOFTRAS_BENCH_DATA`` if set, else ``~/.cache/softras-bench``.  A
    ``$SOFTRAS_BENCH_DATA`` that names a file raises :class:`UserError` naming it."""
    env = os.environ.get(CACHE_ENV)
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "softras-bench"
    if env and root.exists() and not root.is_dir():
        raise UserError(f"${CACHE_ENV}={env!r} is a file, not a directory; point "
                        f"{CACHE_ENV} at a directory for the synthetic data cache, or unset it")
    return root


def read_manifest(directory: str | Path) -> dict | None:
    """The ``manifest.json`` of a built data set, or None when absent or unreadable."""
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _splits_to_build(directory: Path, manifest: dict | None, digest: str,
                     p: SyntheticParams) -> list[tuple[str, str]]:
    """The ``(class_id, split)`` pairs to (re)build: all of them unless ``manifest`` is
    of this build and records content hashes; then those whose files are missing or no
    longer match their hash."""
    pairs = [(cid, split) for cid in p.class_ids for split in SPLITS]
    hashes = (manifest or {}).get("sha256")
    if not manifest or manifest.get("hash") != digest or not isinstance(hashes, dict):
        return pairs
    names = {pair: (images_path(directory, *pair).name, voxels_path(directory, *pair).name)
             for pair in pairs}
    if set(hashes) != {n for pair_names in names.values() for n in pair_names}:
        return pairs
    bad = set(mismatched_files(directory, hashes))
    return [pair for pair in pairs if bad & set(names[pair])]


def _check_renderer_size(renderer, size: int) -> None:
    hw = (getattr(renderer, "height", None), getattr(renderer, "width", None))
    if hw != (None, None) and hw != (size, size):
        raise ValueError(f"renderer draws {hw[0]}x{hw[1]} images but the data set asks for "
                         f"{size}x{size}; pass renderers.get(name, image_size={size})")


#: Draws tried per object before giving up on reaching ``min_voxels``.
MAX_ATTEMPTS = 50


def synthetic_object(p: SyntheticParams, class_id: str, split: str, index: int
                     ) -> tuple[Mesh, np.ndarray]:
    """Object ``index`` of a category and split: ``(mesh, voxels bool [R, R, R] in this
    project's convention)``.  Deterministic; redrawn (``attempt`` 1, 2, ...) while it
    has fewer than ``p.min_voxels`` occupied voxels."""
    for attempt in range(MAX_ATTEMPTS):
        mesh = generate(class_id, object_seed(p.seed, class_id, split, index, attempt))
        voxels = mesh_to_voxels(mesh.vertices, mesh.faces, mesh.part_ids, p.voxel_resolution)
        if int(voxels.sum()) >= p.min_voxels:
            return mesh, voxels
    raise RuntimeError(f"{category_name(class_id)} object {split}/{index}: no draw in "
                       f"{MAX_ATTEMPTS} reached {p.min_voxels} voxels; lower min_voxels")


def _render_split(p: SyntheticParams, cid: str, split: str, renderer, bar
                  ) -> tuple[np.ndarray, np.ndarray]:
    n = p.counts[split]
    color = base_color(cid)
    images = np.zeros((n, NUM_VIEWS, NUM_CHANNELS, p.image_size, p.image_size), dtype=np.uint8)
    voxels = np.zeros((n,) + (p.voxel_resolution,) * 3, dtype=bool)
    for i in range(n):
        mesh, voxels[i] = synthetic_object(p, cid, split, i)
        images[i] = mesh_to_views(mesh.vertices, mesh.faces, renderer, color)
        bar.update(1)
    return images, voxels


def build_synthetic(out_dir: str | Path | None = None,
                    params: str | SyntheticParams | Mapping = "cpu",
                    renderer=None, *, force: bool = False, progress: bool = True,
                    num_threads: int | None = 1, **overrides) -> Path:
    """Build the synthetic data set (or reuse a cached build) and return its directory.

    ``out_dir``: where to write; None uses the cache (``<root>/synthetic/<hash>/``,
    module docstring).  ``params``: a preset name ("smoke", "cpu", "large"),
    :class:`SyntheticParams` or dict; ``overrides`` replace single fields.
    ``renderer``: the silhouette renderer for the alpha channel, e.g.
    ``renderers.get("hard", image_size=64)`` (required; this module never picks one).
    ``force``: rebuild even when a matching build exists.  ``progress``: tqdm bar.
    ``num_threads``: torch threads while building (default 1, the fastest for these
    small per-object tensors; None leaves torch's setting alone).

    Writes ``{class_id}_{split}_images.npz`` / ``_voxels.npz`` for every category and
    split (:mod:`bench_softras.data.layout`) and ``manifest.json`` (parameters, hash,
    files, build time).
    """
    if renderer is None:
        raise TypeError("build_synthetic needs a renderer, e.g. "
                        "renderers.get('hard', image_size=64)")
    p = resolve_params(params, **overrides)
    _check_renderer_size(renderer, p.image_size)
    digest, key = cache_key(p, renderer)
    out = (default_cache_root() / "synthetic" / digest) if out_dir is None else Path(out_dir)
    old = read_manifest(out) if out.is_dir() else None
    todo = _splits_to_build(out, None if force else old, digest, p)
    if not todo:
        return out
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    start = time.perf_counter()
    with tqdm(total=sum(p.counts[s] for _, s in todo), desc="synthetic data", unit="obj",
              disable=not progress) as bar, torch_threads(num_threads):
        for cid, split in todo:
            images, voxels = _render_split(p, cid, split, renderer, bar)
            write_split(out, cid, split, images, voxels)
    files = [f.name for f in synthetic_files(out, p)]
    for stale in set((old or {}).get("files", [])) - set(files):
        (out / stale).unlink(missing_ok=True)
    manifest = {
        "kind": "softras-bench synthetic",
        "hash": digest,
        "key": key,
        "categories": {cid: category_name(cid) for cid in p.class_ids},
        "counts": p.counts,
        "files": files,
        "sha256": hash_files(out, files),
        "rebuilt": [f"{cid}_{split}" for cid, split in todo],
        "build_seconds": round(time.perf_counter() - start, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(out / MANIFEST, manifest, sort_keys=True)
    return out


def synthetic_files(directory: str | Path, params: SyntheticParams) -> list[Path]:
    """The data files a build of ``params`` writes into ``directory``."""
    return [f(directory, cid, split) for cid in params.class_ids for split in SPLITS
            for f in (images_path, voxels_path)]
