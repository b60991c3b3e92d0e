"""Content hashes of cached data files: recorded when a file is written, verified when
the cache is used, so a truncated, zeroed or bit-flipped file is found and rebuilt
instead of failing every later run or being trained on."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

#: Bytes read at a time while hashing.
CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def hash_files(directory: str | Path, names: Iterable[str]) -> dict[str, str]:
    """``{name: sha256}`` of the files ``directory / name``."""
    return {name: file_sha256(Path(directory) / name) for name in names}


def mismatched_files(directory: str | Path, hashes: Mapping[str, str]) -> list[str]:
    """Names in ``hashes`` whose file in ``directory`` is missing or whose content no
    longer has the recorded SHA-256 (each is logged as a warning)."""
    bad = []
    for name, digest in hashes.items():
        path = Path(directory) / name
        if not path.is_file():
            log.warning("data cache: %s is missing; rebuilding it", path)
            bad.append(name)
        elif file_sha256(path) != digest:
            log.warning("data cache: %s does not match its recorded SHA-256 (truncated or "
                        "corrupted); rebuilding it", path)
            bad.append(name)
    return bad
