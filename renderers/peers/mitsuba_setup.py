"""Starting Mitsuba 3 on a CPU: its LLVM library, its variant, and a safe first use.

Mitsuba's CPU variant ``llvm_ad_rgb`` compiles its kernels with Dr.Jit's LLVM backend,
which loads an LLVM shared library at run time.  Measured on this project's Debian 12
machines: with Debian's ``libllvm15`` the JIT *aborts the process* (an LLVM "Cannot
select" error while compiling), with Debian's ``libllvm19`` it works.  Dr.Jit takes the
library from ``$DRJIT_LIBLLVM_PATH``, else from a search of ``/usr/lib/<arch>/libLLVM*``
whose pick depends on which versions are installed.  Hence, before ``mitsuba`` is first
imported (:func:`import_mitsuba`):

* ``DRJIT_LIBLLVM_PATH`` unset and Debian's ``libllvm19`` installed
  (:data:`DEBIAN_LLVM19`): it is set to that library;
* ``DRJIT_LIBLLVM_PATH`` set by the user to another library, or unset without LLVM 19:
  the adapter's own render and gradient of a small image run in a child process
  first (:func:`probe_llvm`), so a JIT that aborts takes down the child, not the caller,
  and the caller gets a ``RuntimeError`` naming the fix (``apt-get install libllvm19``).
  (Measured with LLVM 15: the abort comes from one kernel, compiled when the camera's
  clip range is updated; a probe that skips that step passes, hence the adapter's own
  code in the probe.)

Threads: Dr.Jit has its own thread pool (by default one thread per core), which
:func:`import_mitsuba` sizes to the project's thread count
(:func:`renderers.threads.taichi_threads`: ``--threads`` / ``$SOFTRAS_BENCH_THREADS``,
else the available cores), like torch's and Taichi's.  Measured (2 images of 40 faces,
32 px, 64 spp): the images are the same bits on any thread count, but the gradient's
scatter-adds follow the threads' order, so on 2 threads repeated gradients differ in
the last float32 bits (1.4e-7 of the largest entry); on 1 thread they are identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: Mitsuba variant used on the CPU (Dr.Jit's LLVM backend, autodiff, RGB).
VARIANT = "llvm_ad_rgb"
#: Environment variable Dr.Jit reads for its LLVM shared library.
LLVM_ENV = "DRJIT_LIBLLVM_PATH"
#: Where Debian's (and Ubuntu's) ``libllvm19`` package installs the library.
DEBIAN_LLVM19 = tuple(f"/usr/lib/{arch}-linux-gnu/libLLVM.so.19.1"
                      for arch in ("x86_64", "aarch64")) + ("/usr/lib/llvm-19/lib/libLLVM.so.1",)
#: The script :func:`probe_llvm` runs in a child process.
PROBE_SCRIPT = Path(__file__).with_name("mitsuba_scene.py")
#: Seconds the child-process probe may take (import, one kernel compile, one render).
PROBE_TIMEOUT_S = 300.0
FIX = ("install LLVM 19 (Debian/Ubuntu: apt-get install libllvm19) or set "
       f"{LLVM_ENV} to a working libLLVM shared library (docs/renderers.md, 'Mitsuba 3')")

_state: dict[str, object] = {}


def debian_llvm19() -> str | None:
    """The first existing path of :data:`DEBIAN_LLVM19`, or ``None``."""
    return next((p for p in DEBIAN_LLVM19 if Path(p).is_file()), None)


def choose_llvm() -> tuple[str | None, bool]:
    """Set ``$DRJIT_LIBLLVM_PATH`` to Debian's LLVM 19 when unset and installed.

    Returns ``(path or None, trusted)``: trusted when the variable names the measured
    LLVM 19 (:data:`DEBIAN_LLVM19`); any other library, or none (Dr.Jit then searches on
    its own), is untrusted."""
    if not os.environ.get(LLVM_ENV):
        found = debian_llvm19()
        if found is None or "drjit" in sys.modules:
            return found, False
        os.environ[LLVM_ENV] = found
    path = os.environ[LLVM_ENV]
    return path, path in DEBIAN_LLVM19


def probe_llvm(timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """The adapter's own render and gradient of one small image in a child process
    (:func:`renderers.peers.mitsuba_scene.probe`, run as a script: no torch), with an
    empty kernel cache; ``RuntimeError`` naming the fix when it fails or aborts (or
    takes over ``timeout_s`` seconds)."""
    try:
        with tempfile.TemporaryDirectory(prefix="drjit-probe-") as cache:
            # An empty kernel cache: kernels cached by a working LLVM must not hide a
            # broken one (Dr.Jit's disk cache would load them without compiling).
            done = subprocess.run([sys.executable, str(PROBE_SCRIPT)], capture_output=True,
                                  text=True, timeout=timeout_s, check=False,
                                  env={**os.environ, "DRJIT_CACHE_DIR": cache})
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"mitsuba: a test render did not finish in {timeout_s:g} s; "
                           f"{FIX}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"mitsuba: a test render on Dr.Jit's LLVM backend failed (exit "
                           f"status {done.returncode}: {tail[0][:200]}); {FIX}")


def _project_threads() -> int | None:
    """The project's thread count (:func:`renderers.threads.taichi_threads`), or ``None``
    where this module runs outside its package (the probe's child process)."""
    if not __package__:
        return None
    from ..threads import taichi_threads  # here: the probe script has no package

    return taichi_threads()


def import_mitsuba(probe: bool = True):
    """``(mitsuba, drjit)`` with :data:`VARIANT` active (imported once; LLVM chosen
    first, and with ``probe``, probed where untrusted: :func:`probe_llvm`), Dr.Jit's
    thread pool sized to the project's thread count on every call (it may change:
    ``renderers.threads.configure``).  ``ImportError`` / ``RuntimeError`` naming the
    fix."""
    if "mi" not in _state:
        _, trusted = choose_llvm()
        if probe and not trusted and "mitsuba" not in sys.modules:
            probe_llvm()
        try:
            import drjit as dr  # optional dependency, after the LLVM choice above
            import mitsuba as mi  # optional dependency, after the LLVM choice above
        except Exception as exc:  # installed but broken
            raise ImportError(f"mitsuba: import failed ({exc}); reinstall with "
                              "pip install -e .[peers]") from exc
        if VARIANT not in mi.variants():
            raise ImportError(f"mitsuba: this build has no {VARIANT!r} variant (it has "
                              f"{mi.variants()}); install the PyPI wheel (pip install -e "
                              ".[peers])")
        if not dr.has_backend(dr.JitBackend.LLVM):
            raise RuntimeError(f"mitsuba: Dr.Jit's LLVM backend is inactive (no LLVM "
                               f"library found); {FIX}")
        _state["mi"], _state["dr"] = mi, dr
    mi, dr = _state["mi"], _state["dr"]
    if mi.variant() != VARIANT:
        mi.set_variant(VARIANT)
    threads = _project_threads()
    if threads is not None and dr.thread_count() != threads:
        dr.set_thread_count(threads)
    return mi, dr
