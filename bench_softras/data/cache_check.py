"""Content hashes of data files.

* Cached data files: their SHA-256 is recorded in the build's ``manifest.json`` when they
  are written and verified whenever the data is used (:func:`verify_manifest`, also when
  the data stage itself is skipped), so a truncated, zeroed, bit-flipped or edited file
  is found and rebuilt (or refused) instead of failing every later run or being trained
  on.
* Fingerprints of inputs by content (:func:`npz_content_digest`, :func:`content_sha256`),
  not by path or modification time: the same files elsewhere give the same fingerprint,
  a file replaced in place gives another.

Hashes are remembered per process for files whose inode, size, modification and change
times are unchanged (and that were not written in the last seconds, whose times may not
yet tell a second write apart), so a job that uses its data in several stages reads each
file once."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

#: Bytes read at a time while hashing.
CHUNK = 1 << 20
#: A file changed less than this many seconds ago is hashed again on every call.
RACY_SECONDS = 2.0
#: The build record beside cached data files (:mod:`.synthetic` writes it).
MANIFEST = "manifest.json"
_MEMO: dict[tuple, str] = {}


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
        elif content_sha256(path) != digest:
            log.warning("data cache: %s does not match its recorded SHA-256 (truncated or "
                        "corrupted); rebuilding it", path)
            bad.append(name)
    return bad


def _memo_key(path: Path, kind: str) -> tuple | None:
    """The remembered-hash key of ``path`` (``None``: hash it afresh: it changed in the
    last :data:`RACY_SECONDS`, so a second write might not show in its times yet)."""
    st = path.stat()
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_SECONDS * 1e9:
        return None
    return (kind, str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


def _remembered(path: str | Path, kind: str, compute) -> str:
    path = Path(path)
    key = _memo_key(path, kind)
    if key is not None and key in _MEMO:
        return _MEMO[key]
    digest = compute(path)
    if key is not None:
        _MEMO[key] = digest
    return digest


def content_sha256(path: str | Path) -> str:
    """:func:`file_sha256`, remembered while the file is unchanged (module docstring)."""
    return _remembered(path, "sha256", file_sha256)


def _npz_digest(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            members = sorted((i.filename, i.CRC, i.file_size) for i in zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return "unreadable:" + file_sha256(path)  # malformed: its bytes; readers name it
    return hashlib.sha256(json.dumps(members).encode()).hexdigest()


def npz_content_digest(path: str | Path) -> str:
    """Hex SHA-256 of what an ``.npz`` holds: every member's name, CRC-32 and size of its
    uncompressed array bytes, read from the archive's directory (cheap: the arrays are
    not decompressed).  Unlike the file's bytes it does not change with the time stamps
    ``np.savez`` writes, so two builds of the same arrays agree; a file that is not a
    readable archive is fingerprinted by its bytes."""
    return _remembered(path, "npz", _npz_digest)


def verify_manifest(directory: str | Path, names: Iterable[str] | None = None) -> list[str]:
    """Names of the data files (``names`` only, when given) whose content no longer
    matches the SHA-256 recorded in ``directory``'s :data:`MANIFEST` (missing,
    truncated, edited); empty when all match or when the directory has no manifest (a
    data set given by the user) or the manifest does not list them."""
    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    hashes = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(hashes, dict):
        return []
    wanted = set(hashes) if names is None else set(names) & set(hashes)
    bad = []
    for name in sorted(wanted):
        path = Path(directory) / name
        if not path.is_file() or content_sha256(path) != hashes[name]:
            bad.append(name)
    return bad
