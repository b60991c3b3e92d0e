"""User meshes (OBJ, PLY, OFF, STL) -> the benchmark layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench_softras.data import build_from_meshes, find_meshes, load_split, read_mesh
from bench_softras.data import shapes as S
from metrics.open3d_import import open3d


def write_mesh(path, mesh: S.Mesh) -> None:
    o3d = open3d()
    t = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices),
                                  o3d.utility.Vector3iVector(mesh.faces.astype(np.int32)))
    t.compute_triangle_normals()  # STL needs them
    assert o3d.io.write_triangle_mesh(str(path), t)


@pytest.fixture
def mesh_dir(tmp_path):
    d = tmp_path / "meshes"
    (d / "sub").mkdir(parents=True)
    # An x-long box far from the origin and in large units: normalization must centre it.
    write_mesh(d / "a_box.obj", S.box((20.0, 10.0, 10.0), (50.0, -30.0, 7.0)))
    write_mesh(d / "b_cyl.ply", S.cylinder(0.3, 2.0, axis="z"))
    write_mesh(d / "c_ball.off", S.ellipsoid((1.0, 1.0, 1.0)))
    write_mesh(d / "sub" / "d_two.stl", S.merge([S.box((1, 1, 1)), S.box((1, 1, 1), (3, 0, 0))]))
    (d / "notes.txt").write_text("not a mesh")
    return d


def test_find_meshes_walks_directories_sorted(mesh_dir):
    names = [p.name for p in find_meshes(mesh_dir)]
    assert names == ["a_box.obj", "b_cyl.ply", "c_ball.off", "d_two.stl"]
    assert [p.name for p in find_meshes([mesh_dir / "c_ball.off", mesh_dir / "sub"])] == [
        "c_ball.off", "d_two.stl"]


def test_build_from_meshes_round_trip(mesh_dir, tmp_path, renderer):
    out = build_from_meshes(mesh_dir, tmp_path / "out", renderer, class_id="user",
                            progress=False)
    ds = load_split(out, "test", ["user"])
    assert len(ds) == 4 and ds.images.shape == (4, 24, 4, 64, 64)
    sources = json.loads((out / "user_test_sources.json").read_text())
    assert [s.rsplit("/", 1)[-1] for s in sources] == ["a_box.obj", "b_cyl.ply", "c_ball.off",
                                                       "d_two.stl"]
    assert (ds.images[:, :, 3].reshape(4, -1).max(axis=1) == 255).all()
    # The box (2:1:1, diagonal 1) is centred and long along x: with the benchmark's
    # surface rule its voxels are exactly those the box overlaps, per axis the cells
    # [k, k+1)/32 - 1/2 meeting [-h, h] with h = (2, 1, 1) / sqrt(6) / 2.
    occ = np.argwhere(ds.voxels[0])
    extent = occ.max(axis=0) - occ.min(axis=0) + 1
    lo = -0.5 + np.arange(32) / 32
    expected = [int(((lo <= h) & (lo + 1 / 32 >= -h)).sum())
                for h in np.array([2, 1, 1]) / np.sqrt(6) / 2]
    assert list(extent) == expected
    assert ds.voxels[0].sum() == np.prod(expected)
    assert np.allclose(occ.mean(axis=0), 15.5)
    # The two separate cubes (STL: per-face vertices) are voxelized as two solids.
    two = ds.voxels[3]
    assert two.sum() > 0 and two[:16].sum() > 0 and two[16:].sum() > 0


def test_read_mesh_and_find_errors(tmp_path):
    bad = tmp_path / "empty.obj"
    bad.write_text("# nothing here\n")
    with pytest.raises(ValueError, match="empty.obj"):
        read_mesh(bad)
    with pytest.raises(FileNotFoundError, match="missing.obj"):
        find_meshes(tmp_path / "missing.obj")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match="unsupported mesh format"):
        find_meshes(tmp_path / "x.txt")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no mesh files"):
        find_meshes(tmp_path / "nothing")


def test_bad_class_id(mesh_dir, tmp_path, renderer):
    with pytest.raises(ValueError, match="file name"):
        build_from_meshes(mesh_dir, tmp_path / "o", renderer, class_id="my_meshes")
