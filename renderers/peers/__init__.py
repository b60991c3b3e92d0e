"""Optional third-party renderers ("peers"), registered by :mod:`renderers` itself.

Each peer is an adapter module here that imports its package only when it renders.
:func:`register_peers` (run when :mod:`renderers` is imported) registers every peer
whose package is installed (the others' adapters still describe them:
``renderers.names(absent=True)``), so every command and study sees the same renderers;
:func:`absent_peers` says, for the others, why they are absent, and
:func:`not_installed` how to install them.  Install them as described in
the README (``pip install -e .[peers]``; PyTorch3D has no CPU wheel: build it from
source).

* ``pytorch3d_soft``: :mod:`renderers.peers.pytorch3d_soft` (package ``pytorch3d``);
* ``mitsuba``: :mod:`renderers.peers.mitsuba_silhouette` (package ``mitsuba``, PyPI; its
  CPU variant needs an LLVM shared library: :mod:`renderers.peers.mitsuba_setup`).
"""

from __future__ import annotations

import importlib
import importlib.util

from ..base import available, note_absent, register

#: Peer name -> (adapter module, adapter class, the package it needs).
PEERS = {
    "pytorch3d_soft": ("renderers.peers.pytorch3d_soft", "PyTorch3DSoftSilhouette",
                       "pytorch3d"),
    "mitsuba": ("renderers.peers.mitsuba_silhouette", "MitsubaSilhouette", "mitsuba"),
}

#: Peer name -> how to install it (the versions are pinned in pyproject.toml's ``peers``
#: extra; docs/renderers.md, "Optional peers").
INSTALL = {
    "pytorch3d_soft": "PyTorch3D has no CPU wheel: build it from a PyTorch3D source checkout "
                      "(docs/renderers.md, 'Optional peers')",
    "mitsuba": "pip install -e .[peers] (Mitsuba 3 and Dr.Jit, pinned in pyproject.toml; on a "
               "CPU also an LLVM library: docs/renderers.md, 'Mitsuba 3')",
}


def _missing(package: str) -> str | None:
    try:
        found = importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else f"{package} is not installed"


def register_peers() -> dict[str, str]:
    """Register every peer whose package is installed (its adapter is imported, the
    package itself only on first render).  Returns :func:`absent_peers`."""
    for name, (module, cls, package) in PEERS.items():
        adapter = getattr(importlib.import_module(module), cls)
        if name not in available() and _missing(package) is None:
            register(name, adapter)
        else:
            note_absent(name, adapter)  # described (renderers.names(absent=True)) only
    return absent_peers()


def absent_peers() -> dict[str, str]:
    """``{name: why}`` for the peers that are not registered, e.g.
    ``{"pytorch3d_soft": "pytorch3d is not installed"}``; empty when all are."""
    notes = {}
    for name, (_module, _cls, package) in PEERS.items():
        if name not in available():
            notes[name] = _missing(package) or "not registered"
    return notes


def not_installed(name: str) -> str | None:
    """For an optional peer that is not registered, one line saying so, why and how to
    install it, e.g. ``renderer 'mitsuba' is not installed (mitsuba is not installed);
    install it: pip install -e .[peers] ...``; ``None`` for any other name."""
    note = absent_peers().get(name) if isinstance(name, str) else None
    if note is None:
        return None
    return (f"renderer {name!r} is an optional peer that is not installed here ({note}); "
            f"install it: {INSTALL[name]}; softras-bench renderers lists what is installed")
