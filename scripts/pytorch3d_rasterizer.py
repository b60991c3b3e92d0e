"""Build PyTorch3D's CPU mesh rasterizer alone, for ``pytorch3d_soft`` and the bench's
PyTorch3D row (issue 22, target 4), in about a minute instead of the full wheel's
20 minutes on 2 cores (docs/renderers.md, "Optional peers").

It compiles PyTorch3D's own ``csrc/rasterize_meshes/rasterize_meshes_cpu.cpp`` with a
binding file holding ``csrc/ext.cpp``'s ``rasterize_meshes*`` bindings and its
constants, as the extension ``pytorch3d._C`` (torch's ``CppExtension``, the compiler
flags of this Python), next to a copy of the checkout's ``pytorch3d`` Python package
(without ``csrc``).  The other ``_C`` functions are absent, so only the mesh rasterizer
works.  Usage, with a PyTorch3D source checkout (measured with 0.7.9, commit 9381c40)::

    git clone https://github.com/facebookresearch/pytorch3d /tmp/pytorch3d
    python scripts/pytorch3d_rasterizer.py --src /tmp/pytorch3d --out ../p3d_lib
    PYTHONPATH=../p3d_lib nox -s bench          # or any command that renders

``--out`` is written whole or not at all: the build goes to a temporary folder beside
it, renamed into place when it succeeded (an existing ``--out`` is replaced only with
``--force``).  Exit status 2 names a missing checkout or an existing ``--out``; 1 a
failed build, with the compiler's last lines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: The rasterizer's source inside a PyTorch3D checkout.
RASTERIZER = Path("pytorch3d/csrc/rasterize_meshes/rasterize_meshes_cpu.cpp")
#: ``csrc/ext.cpp``'s bindings of the mesh rasterizer and its constants.
BINDINGS = """\
// PyTorch3D's mesh rasterizer alone (scripts/pytorch3d_rasterizer.py).
#include <torch/extension.h>
#include "pulsar/constants.h"
#include "rasterize_meshes/rasterize_meshes.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("rasterize_meshes_backward", &RasterizeMeshesBackward);
  m.def("rasterize_meshes", &RasterizeMeshes);
  m.def("_rasterize_meshes_naive", &RasterizeMeshesNaive);
  m.def("_rasterize_meshes_coarse", &RasterizeMeshesCoarse);
  m.def("_rasterize_meshes_fine", &RasterizeMeshesFine);
  m.attr("EPS") = py::float_(EPS);
  m.attr("MAX_FLOAT") = py::float_(MAX_FLOAT);
  m.attr("MAX_INT") = py::int_(MAX_INT);
  m.attr("MAX_UINT") = py::int_(MAX_UINT);
  m.attr("MAX_USHORT") = py::int_(MAX_USHORT);
}
"""
#: The setuptools script run in the build folder (``{csrc}``: the checkout's csrc).
SETUP = """\
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

setup(name="pytorch3d_rasterizer", script_args=["build_ext", "--build-lib", {lib!r}],
      ext_modules=[CppExtension("pytorch3d._C", ["bindings.cpp", {source!r}],
                                include_dirs=[{csrc!r}],
                                extra_compile_args=["-std=c++17"])],
      cmdclass={{"build_ext": BuildExtension}})
"""


class BuildError(Exception):
    """A problem with the arguments (the message says which and how to fix it)."""


def check_paths(src: Path, out: Path, force: bool) -> None:
    """Refuse a ``src`` without the rasterizer's source, or an existing ``out``
    without ``force`` (:class:`BuildError`)."""
    if not (src / RASTERIZER).is_file():
        raise BuildError(f"--src {src}: no {RASTERIZER} there; give a PyTorch3D source "
                         "checkout (git clone https://github.com/facebookresearch/pytorch3d)")
    if out.exists() and not force:
        raise BuildError(f"--out {out} exists; remove it or add --force to replace it")


def build(src: Path, out: Path) -> Path:
    """Compile into a temporary folder beside ``out`` and rename it to ``out``
    (replacing an old one); returns ``out``.  ``RuntimeError`` with the compiler's
    last lines when the build fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        lib, work = tmp / "lib", tmp / "build"
        shutil.copytree(src / "pytorch3d", lib / "pytorch3d",
                        ignore=shutil.ignore_patterns("csrc", "__pycache__"))
        work.mkdir()
        (work / "bindings.cpp").write_text(BINDINGS)
        csrc = (src / "pytorch3d" / "csrc").resolve()
        (work / "setup.py").write_text(SETUP.format(lib=str(lib), csrc=str(csrc),
                                                    source=str((src / RASTERIZER).resolve())))
        done = subprocess.run([sys.executable, "setup.py"], cwd=work, capture_output=True,
                              text=True, env={**os.environ, "MAX_JOBS": "2"})
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise RuntimeError("the build failed:\n" + "\n".join(tail))
        if out.exists():
            shutil.rmtree(out)
        lib.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="PyTorch3D source checkout")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder to create; put it on PYTHONPATH")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    try:
        check_paths(args.src, args.out, args.force)
    except BuildError as exc:
        parser.error(str(exc))  # exit status 2
    try:
        out = build(args.src, args.out)
    except (RuntimeError, OSError) as exc:
        print(f"pytorch3d_rasterizer: {exc}", file=sys.stderr)
        return 1
    print(f"built {out / 'pytorch3d'}; use it with PYTHONPATH={out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
