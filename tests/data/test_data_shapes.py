"""Closed primitives and procedural categories: watertight parts, outward orientation,
normalization into [-0.5, 0.5]^3, determinism, variation, and no renderer imports."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from bench_softras.data import CATEGORIES, GENERATORS, generate, object_seed
from bench_softras.data import shapes as S
from bench_softras.data.generators import plate
from metrics.open3d_import import open3d

DATA_PKG = Path(__file__).resolve().parents[2] / "bench_softras" / "data"


def is_watertight(mesh: S.Mesh) -> bool:
    o3d = open3d()
    t = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices),
                                  o3d.utility.Vector3iVector(mesh.faces.astype(np.int32)))
    return bool(t.is_watertight())


PRIMITIVES = {
    "box": lambda: S.box((0.3, 0.1, 0.2), (0.1, 0, 0)),
    "tapered_box": lambda: S.tapered_box((0.2, 0.1), (0.05, 0.08), 0.3, top_shift=(0.1, 0)),
    "cylinder_x": lambda: S.cylinder(0.1, 0.4, axis="x"),
    "frustum_z": lambda: S.cylinder(0.2, 0.1, axis="z", top_radius=0.05),
    "ellipsoid": lambda: S.ellipsoid((0.1, 0.3, 0.2)),
    "segment": lambda: S.segment((0, 0, 0), (0.2, -0.3, 0.1), 0.02),
    "square_bar": lambda: S.segment((0, 0, 0), (0, -0.3, 0), 0.02, square=True),
    "plate_zy": lambda: plate(np.array([[0, 0], [0.3, 0], [0.1, 0.2]]), 0.01, plane="zy"),
    "plate_xy": lambda: plate(np.array([[0, 0], [0.3, 0], [0.1, 0.2]]), 0.01, plane="xy"),
    "mirrored": lambda: S.box((0.3, 0.1, 0.2)).transformed(np.diag([-1.0, 1.0, 1.0])),
}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitives_closed_and_outward(name):
    m = PRIMITIVES[name]()
    assert m.vertices.dtype == np.float64 and m.faces.dtype == np.int64
    assert is_watertight(m)
    assert S.signed_volume(m.vertices, m.faces) > 0


def test_box_volume_and_cylinder_volume_exact():
    assert S.signed_volume(*_vf(S.box((0.3, 0.1, 0.2)))) == pytest.approx(0.006)
    n = 16  # a 16-gon prism: area = n/2 r^2 sin(2 pi / n)
    expected = n / 2 * 0.1**2 * np.sin(2 * np.pi / n) * 0.4
    assert S.signed_volume(*_vf(S.cylinder(0.1, 0.4, segments=n))) == pytest.approx(expected)


def _vf(m):
    return m.vertices, m.faces


def test_mesh_validation_errors():
    with pytest.raises(ValueError, match="vertices"):
        S.Mesh(np.zeros((3, 2)), np.zeros((1, 3)), np.zeros(1))
    with pytest.raises(IndexError, match="out of range"):
        S.Mesh(np.zeros((3, 3)), np.array([[0, 1, 3]]), np.zeros(1))
    with pytest.raises(ValueError, match="part_ids"):
        S.Mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros(2))
    with pytest.raises(ValueError, match="> 0"):
        S.box((0.1, 0.0, 0.1))


def test_merge_and_part_roundtrip():
    a, b = S.box((0.1, 0.1, 0.1)), S.ellipsoid((0.1, 0.1, 0.1), (0.3, 0, 0))
    m = S.merge([a, b])
    assert m.num_parts == 2
    assert np.array_equal(m.part(1).vertices, b.vertices)
    assert np.array_equal(m.part(1).faces, b.faces)


def test_normalize_centres_and_scales_the_diagonal():
    m = S.normalize(S.box((2.0, 1.0, 1.0), (5.0, -3.0, 1.0)))
    lo, hi = m.bounds()
    assert np.allclose((lo + hi) / 2, 0) and np.linalg.norm(hi - lo) == pytest.approx(1.0)
    assert np.allclose(hi - lo, np.array([2, 1, 1]) / np.sqrt(6))


@pytest.mark.parametrize("class_id", sorted(GENERATORS))
def test_every_category_makes_valid_closed_parts(class_id):
    """20 seeds per category: each part watertight and outward, the object normalized
    (bounding box centred, diagonal 1, inside [-0.5, 0.5]^3)."""
    for seed in range(20):
        m = generate(class_id, seed)
        assert m.vertices.dtype == np.float64 and m.faces.dtype == np.int64
        assert m.part_ids.dtype == np.int64 and m.part_ids.shape == (m.faces.shape[0],)
        lo, hi = m.bounds()
        assert lo.min() >= -0.5 - 1e-12 and hi.max() <= 0.5 + 1e-12
        assert np.allclose((lo + hi) / 2, 0, atol=1e-12)
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
        assert m.num_parts >= 2
        for k, part in enumerate(m.parts()):
            assert is_watertight(part), f"{CATEGORIES[class_id]} seed {seed} part {k}"
            assert S.signed_volume(part.vertices, part.faces) > 0


@pytest.mark.parametrize("class_id", sorted(GENERATORS))
def test_categories_vary_within_class(class_id):
    """Proportions differ between objects of a class (bounding-box aspect ratios)."""
    ext = np.array([np.subtract(*generate(class_id, s).bounds()[::-1]) for s in range(12)])
    aspect = ext / ext.max(axis=1, keepdims=True)
    assert aspect.std(axis=0).max() > 0.02


def test_part_counts_vary_across_the_suite():
    counts = {cid: {generate(cid, s).num_parts for s in range(12)} for cid in GENERATORS}
    varying = [cid for cid, c in counts.items() if len(c) > 1]
    assert len(varying) >= 10, counts


def test_generation_is_deterministic():
    for cid in GENERATORS:
        a, b = generate(cid, object_seed(3, cid, "val", 5)), generate(cid, object_seed(3, cid,
                                                                                       "val", 5))
        assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
        c = generate(cid, object_seed(3, cid, "val", 6))
        assert c.vertices.shape != a.vertices.shape or not np.array_equal(a.vertices, c.vertices)


def test_object_seeds_are_distinct():
    seeds = {tuple(object_seed(0, cid, split, i).generate_state(4))
             for cid in CATEGORIES for split in ("train", "val", "test") for i in range(5)}
    assert len(seeds) == len(CATEGORIES) * 3 * 5


def test_names_are_accepted_and_unknown_rejected():
    assert np.array_equal(generate("chair", 1).vertices, generate("03001627", 1).vertices)
    with pytest.raises(KeyError, match="unknown category"):
        generate("spaceship", 0)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module or "")
    return names


def test_generator_modules_import_no_renderer_and_no_torch():
    for name in ("shapes.py", "categories.py", "generators.py"):
        mods = _imports(DATA_PKG / name)
        assert not any(m.split(".")[0] in ("renderers", "torch", "taichi") for m in mods), name


def test_builders_never_pick_a_renderer():
    """Builders get the renderer passed in: they may use the camera and pixel-grid
    conventions but import no renderer module and never call renderers.get."""
    allowed = {"renderers.camera", "renderers.grid"}
    for path in DATA_PKG.glob("*.py"):
        mods = {m for m in _imports(path) if m.split(".")[0] == "renderers"}
        assert mods <= allowed, (path.name, mods)
        calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and n.func.attr == "get"
                 and isinstance(n.func.value, ast.Name) and n.func.value.id == "renderers"]
        assert not calls, path.name
