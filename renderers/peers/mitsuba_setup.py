"""Starting Mitsuba 3 on a CPU: its LLVM library, its variant, and a safe first use.

Mitsuba's CPU variant ``llvm_ad_rgb`` compiles its kernels with Dr.Jit's LLVM backend,
which loads an LLVM shared library at run time.  Measured on this project's Debian 12
machines: with Debian's ``libllvm15`` the JIT *aborts the process* (an LLVM "Cannot
select" error while compiling), with Debian's ``libllvm19`` it works.  Dr.Jit takes the
library from ``$DRJIT_LIBLLVM_PATH``, else from a search of ``/usr/lib/<arch>/libLLVM*``
whose pick depends on which versions are installed.  Hence, before ``mitsuba`` is first
imported (:func:`import_mitsuba`):

* ``DRJIT_LIBLLVM_PATH`` set by the user: used as given;
* else, where Debian's ``libllvm19`` is installed (:data:`DEBIAN_LLVM19`), it is set to
  that library;
* else one tiny render runs in a child process first (:func:`probe_llvm`), so a JIT that
  aborts takes down the child, not the caller, and the caller gets a ``RuntimeError``
  naming the fix (``apt-get install libllvm19``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Mitsuba variant used on the CPU (Dr.Jit's LLVM backend, autodiff, RGB).
VARIANT = "llvm_ad_rgb"
#: Environment variable Dr.Jit reads for its LLVM shared library.
LLVM_ENV = "DRJIT_LIBLLVM_PATH"
#: Where Debian's (and Ubuntu's) ``libllvm19`` package installs the library.
DEBIAN_LLVM19 = tuple(f"/usr/lib/{arch}-linux-gnu/libLLVM.so.19.1"
                      for arch in ("x86_64", "aarch64")) + ("/usr/lib/llvm-19/lib/libLLVM.so.1",)
#: Seconds the child-process probe may take (import, one kernel compile, one render).
PROBE_TIMEOUT_S = 300.0
FIX = ("install LLVM 19 (Debian/Ubuntu: apt-get install libllvm19) or set "
       f"{LLVM_ENV} to a working libLLVM shared library (see the README, 'Mitsuba 3')")

_state: dict[str, object] = {}


def debian_llvm19() -> str | None:
    """The first existing path of :data:`DEBIAN_LLVM19`, or ``None``."""
    return next((p for p in DEBIAN_LLVM19 if Path(p).is_file()), None)


def choose_llvm() -> tuple[str | None, bool]:
    """Set ``$DRJIT_LIBLLVM_PATH`` to Debian's LLVM 19 when unset and installed.

    Returns ``(path or None, trusted)``: trusted when the user set the variable or the
    known-good LLVM 19 was found; untrusted means Dr.Jit searches on its own."""
    if os.environ.get(LLVM_ENV):
        return os.environ[LLVM_ENV], True
    found = debian_llvm19()
    if found is not None and "drjit" not in sys.modules:
        os.environ[LLVM_ENV] = found
        return found, True
    return found, found is not None


def probe_llvm(timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """One tiny render and its gradient (:func:`_probe`) in a child process; ``RuntimeError`` naming
    the fix when it fails or aborts (or takes over ``timeout_s`` seconds)."""
    try:
        done = subprocess.run([sys.executable, __file__, "--probe"], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"mitsuba: a test render did not finish in {timeout_s:g} s; "
                           f"{FIX}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"mitsuba: a test render on Dr.Jit's LLVM backend failed (exit "
                           f"status {done.returncode}: {tail[0][:200]}); {FIX}")


def import_mitsuba():
    """``mitsuba`` with :data:`VARIANT` active (imported once; LLVM chosen, and probed
    where untrusted, first).  ``ImportError`` / ``RuntimeError`` naming the fix."""
    if "mi" not in _state:
        _, trusted = choose_llvm()
        if not trusted and "mitsuba" not in sys.modules:
            probe_llvm()
        try:
            import drjit as dr
            import mitsuba as mi
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
    if not _state.get("integrator"):
        register_coverage_integrator(mi, dr)
        _state["integrator"] = True
    return mi, dr


COVERAGE_INTEGRATOR = "coverage_projective"


def register_coverage_integrator(mi, dr) -> None:
    """Register :data:`COVERAGE_INTEGRATOR` with Mitsuba (for the active variant): its
    ``prb_projective`` integrator with the radiance of a ray set to 1 when it hits any
    face (from either side: a two-sided emitter of radiance 1, no other light) and 0
    otherwise.  Everything else, the primarily-visible silhouette sampling included, is
    ``prb_projective``'s.  (Mitsuba's ``area`` emitter emits on one side only, so a
    closed mesh would show black back faces; flipping faces to face the camera would
    break the edge adjacency its silhouette detection reads.)"""
    from mitsuba.ad.integrators.prb_projective import PathProjectiveIntegrator

    class CoverageProjective(PathProjectiveIntegrator):
        def sample(self, mode, scene, sampler, ray, depth, δL, state_in, active,  # noqa: N803
                   project=False, si_shade=None, **kwargs):
            active = mi.Bool(active)
            if si_shade is None:  # a camera (or background) ray: covered if it hits
                hit = active & scene.ray_test(mi.Ray3f(ray), active)
            else:  # starts on a silhouette point of a face: that face is seen
                hit = active
            return dr.select(hit, mi.Spectrum(1.0), mi.Spectrum(0.0)), active, [], None

    mi.register_integrator(COVERAGE_INTEGRATOR, lambda props: CoverageProjective(props))


def build_scene(mi, vertices, faces, height: int, width: int):
    """The adapter's scene: a mesh ``soup`` (float32 camera-space ``vertices`` ``[V, 3]``,
    uint32 ``faces`` ``[F, 3]``) seen by a pinhole camera at the origin looking along +z
    (90 degree horizontal field of view; Mitsuba's camera +x is the image's left) onto a
    ``height x width`` film with a box pixel filter, rendered by
    :data:`COVERAGE_INTEGRATOR` with no continuous (``sppc``) and no indirect (``sppi``)
    derivative term: its gradient is the primary-visibility (silhouette) term alone."""
    mesh = mi.Mesh("soup", len(vertices), len(faces))
    mesh_params = mi.traverse(mesh)
    mesh_params["vertex_positions"] = mi.Float(vertices.ravel())
    mesh_params["faces"] = mi.UInt32(faces.ravel())
    mesh_params.update()
    return mi.load_dict({
        "type": "scene",
        "integrator": {"type": COVERAGE_INTEGRATOR, "max_depth": 1, "sppc": 0, "sppi": 0},
        "sensor": {"type": "perspective", "fov": 90.0, "fov_axis": "x",
                   "film": {"type": "hdrfilm", "width": width, "height": height,
                            "rfilter": {"type": "box"}, "pixel_format": "luminance",
                            "sample_border": True},
                   "sampler": {"type": "independent"}},
        "soup": mesh,
    })


def _probe() -> None:
    """The child process of :func:`probe_llvm`: one triangle, forward and backward."""
    import drjit as dr
    import mitsuba as mi
    import numpy as np

    mi.set_variant(VARIANT)
    register_coverage_integrator(mi, dr)
    tri = np.array([[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.0, 0.5, 1.0]], np.float32)
    scene = build_scene(mi, tri, np.array([[0, 1, 2]], np.uint32), 4, 4)
    params = mi.traverse(scene)
    pos = mi.Float(tri.ravel())
    dr.enable_grad(pos)
    params["soup.vertex_positions"] = pos
    params.update()
    mi.render(scene, spp=1)
    scene.integrator().render_backward(scene, params, dr.ones(mi.TensorXf, (4, 4, 1)), spp=1)
    dr.grad(pos)


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:
    _probe()
