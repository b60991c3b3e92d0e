"""Import open3d reliably.

open3d 0.20 on Linux needs ``libusb-1.0.so.0`` at import.  When the system does not
provide it, the PyPI package ``libusb-package`` ships the library; it is loaded with
``RTLD_GLOBAL`` before open3d is imported so the dynamic linker finds it.
"""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def open3d():
    """The ``open3d`` module (imported once, with libusb preloaded when needed)."""
    try:
        import libusb_package  # optional: only where the system lacks libusb

        path = libusb_package.get_library_path()
        if path is not None:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except (ImportError, OSError):
        pass  # fall back to a system libusb, if any
    try:
        import open3d as o3d  # here: only after libusb is preloaded above
    except OSError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            f"open3d failed to import ({exc}); install Debian's libusb-1.0-0 or the PyPI "
            "package libusb-package"
        ) from exc
    return o3d
