"""Bad mesh files (``--fit-shapes``, ``build_from_meshes``): one ``MeshFileError`` line
naming the file and what is expected, never a traceback from open3d or numpy; the CLI
prints it and exits with status 2."""

from __future__ import annotations

import pytest

from bench_softras import cli
from bench_softras.data.user_meshes import MeshFileError, find_meshes, read_mesh
from bench_softras.errors import UserError
from bench_softras.experiments.fitting import load_target

TRIANGLE = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
PLY_CLOUD = ("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
             "property float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n")

#: name -> (file content or None for a directory / nothing, words the message holds)
BAD = {
    "empty.obj": ("", "is empty"),
    "nan.obj": ("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
    "point.obj": ("v 0 0 0\nf 1 1 1\n", "one point"),
    "badface.obj": ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "no vertices or triangles"),
    "cloud.ply": (PLY_CLOUD, "point cloud"),
    "text.obj": ("hello world\nthis is text\n", "no vertices or triangles"),
    "tri.txt": (TRIANGLE, "unsupported mesh format ('.txt')"),
    "folder.obj": (None, "is a directory"),
    "missing": (False, "no such mesh file"),
}


def _make(tmp_path, name: str):
    content, _ = BAD[name]
    p = tmp_path / name
    if content is None:
        p.mkdir()
    elif content is not False:
        p.write_text(content)
    return p


@pytest.mark.parametrize("name", list(BAD))
def test_read_mesh_names_the_file(tmp_path, capsys, name):
    p = _make(tmp_path, name)
    with pytest.raises(MeshFileError) as info:
        read_mesh(p)
    msg = str(info.value)
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)
    assert str(p) in msg and BAD[name][1] in msg and ".obj, .ply" in msg, msg
    assert len(msg.splitlines()) == 1
    out = capsys.readouterr()
    assert "Open3D" not in out.out + out.err  # open3d's own warning is silenced


@pytest.mark.parametrize("name", list(BAD))
def test_fit_target_names_the_file(tmp_path, name):
    p = _make(tmp_path, name)
    with pytest.raises(MeshFileError, match=BAD[name][1].replace("(", r"\(").replace(
            ")", r"\)")):
        load_target(str(p))


def test_missing_mesh_is_also_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such mesh file"):
        find_meshes(tmp_path / "missing.obj")


def test_good_mesh_still_reads(tmp_path):
    p = tmp_path / "tri.obj"
    p.write_text(TRIANGLE)
    m = read_mesh(p)
    assert m.vertices.shape == (3, 3) and m.faces.shape == (1, 3)


@pytest.mark.parametrize("name", ["nan.obj", "folder.obj", "tri.txt", "missing"])
def test_fit_cli_one_line(tmp_path, capsys, name):
    p = _make(tmp_path, name)
    code = cli.main(["fit", "--shapes", str(p), "--renderers", "hard", "--preset", "smoke",
                     "--out-dir", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(p) in err and BAD[name][1] in err
