"""``scripts/pytorch3d_rasterizer.py`` (PyTorch3D's mesh rasterizer built alone, for the
bench's PyTorch3D row): bad arguments exit with status 2 and one line naming the fix;
the build writes its binding and setup files, and ``--out`` appears only when the
build succeeded.  The compiler itself is stood in for (a real build takes a minute and
a PyTorch3D checkout; measured in docs/renderers.md)."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from script_module import load_script


def _module():
    return load_script("pytorch3d_rasterizer")


def _checkout(root: Path) -> Path:
    """A stand-in PyTorch3D checkout: the rasterizer's source and a Python package."""
    (root / "pytorch3d" / "csrc" / "rasterize_meshes").mkdir(parents=True)
    (root / "pytorch3d" / "csrc" / "rasterize_meshes" / "rasterize_meshes_cpu.cpp").write_text("")
    (root / "pytorch3d" / "__init__.py").write_text("")
    (root / "pytorch3d" / "renderer").mkdir()
    (root / "pytorch3d" / "renderer" / "__init__.py").write_text("")
    return root


def test_bad_arguments_exit_2_naming_the_fix(tmp_path, capsys):
    mod = _module()
    with pytest.raises(SystemExit) as exc:
        mod.main(["--src", str(tmp_path), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "give a PyTorch3D source checkout" in capsys.readouterr().err
    src = _checkout(tmp_path / "src")
    (tmp_path / "out").mkdir()
    with pytest.raises(SystemExit) as exc:
        mod.main(["--src", str(src), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "add --force" in capsys.readouterr().err


def test_out_appears_only_after_a_successful_build(tmp_path, monkeypatch):
    mod = _module()
    src, out = _checkout(tmp_path / "src"), tmp_path / "lib"
    seen = {}

    def compiler(cmd, cwd, **kwargs):
        seen["setup"] = (Path(cwd) / "setup.py").read_text()
        seen["bindings"] = (Path(cwd) / "bindings.cpp").read_text()
        if seen.get("fail"):
            return subprocess.CompletedProcess(cmd, 1, "", "error: no such thing")
        lib = Path(ast.literal_eval(seen["setup"].split('"--build-lib", ')[1].split("]")[0]))
        (lib / "pytorch3d" / "_C.so").write_text("built")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(mod.subprocess, "run", compiler)
    seen["fail"] = True
    with pytest.raises(RuntimeError, match="the build failed:\nerror: no such thing"):
        mod.build(src, out)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["src"]
    seen["fail"] = False
    assert mod.build(src, out) == out
    assert (out / "pytorch3d" / "_C.so").read_text() == "built"
    assert (out / "pytorch3d" / "renderer" / "__init__.py").exists()
    assert not (out / "pytorch3d" / "csrc").exists()
    assert "rasterize_meshes_cpu.cpp" in seen["setup"] and "pytorch3d._C" in seen["setup"]
    assert 'm.def("rasterize_meshes", &RasterizeMeshes);' in seen["bindings"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib", "src"]  # no temporary left


def test_a_failed_build_exits_1_with_the_compilers_lines(tmp_path, monkeypatch, capsys):
    mod = _module()
    src = _checkout(tmp_path / "src")
    monkeypatch.setattr(mod.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, "", "bindings.cpp:3: fatal error: torch/extension.h: No such file"))
    assert mod.main(["--src", str(src), "--out", str(tmp_path / "lib")]) == 1
    err = capsys.readouterr().err
    assert "the build failed" in err and "torch/extension.h" in err
    assert not (tmp_path / "lib").exists()
