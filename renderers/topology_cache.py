"""A small cache of values computed from a mesh's faces alone.

A training run renders one topology (the generator's template faces) thousands of
times; what depends on the faces only (adjacency, edge lists) need not be recomputed
per call.  :class:`TopologyCache` keys a value by the faces tensor's content (shape,
dtype, device and a hash of its bytes) plus a caller's tag, confirms a hit with
``torch.equal`` against a private copy of the faces (a hash collision or faces edited in
place cannot return another mesh's value) and keeps the :data:`CAPACITY` most recently
used entries.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch

#: Entries kept per cache (least recently used dropped first).
CAPACITY = 8


def faces_key(faces: torch.Tensor) -> tuple:
    """A hashable key of int ``faces`` (any shape): shape, dtype, device and a BLAKE2b
    digest of the bytes (about 20 us for 1280 faces on the CPU)."""
    data = faces.detach().contiguous().cpu().numpy().tobytes()
    return (tuple(faces.shape), str(faces.dtype), str(faces.device),
            hashlib.blake2b(data, digest_size=16).hexdigest())


class TopologyCache:
    """``get(faces, tag, compute)``: ``compute(faces)`` the first time a given content of
    ``faces`` (and ``tag``) is seen, the stored value afterwards (module docstring).
    Thread-safe; ``capacity`` entries, least recently used evicted."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple, tuple[torch.Tensor, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, faces: torch.Tensor, tag: Hashable,
            compute: Callable[[torch.Tensor], object]) -> object:
        """The value of ``compute`` for this content of ``faces`` under ``tag``."""
        key = (faces_key(faces), tag)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and torch.equal(hit[0], faces.detach()):
                self._entries.move_to_end(key)
                return hit[1]
        value = compute(faces)
        with self._lock:
            self._entries[key] = (faces.detach().clone(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
