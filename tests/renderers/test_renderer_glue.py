"""``render`` (through ``Rasterizer.rasterize_mesh``) equals the plain path
``rasterize(gather_faces(camera.project(v), faces))`` bit for bit, forward and
backward, for every renderer; the topology cache is keyed by the faces' content."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import renderers
from metrics.meshes import template_sphere
from renderers import Camera, gather_faces
from renderers.antialias import mesh_wings, wing_vertices
from renderers.antialias.function import KEY_WEIGHTS, positions_distinct
from renderers.peers import PEERS
from renderers.topology_cache import CAPACITY, TopologyCache

#: This project's renderers (optional peers, where installed, keep the default hook).
NAMES = [n for n in renderers.names() if n not in PEERS]
VIEWS = torch.tensor([0, 5, 11])


def _sphere(dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A closed icosphere (162 vertices, 320 faces), one jittered copy per view."""
    v, f = template_sphere(subdivisions=2, radius=0.3)
    g = torch.Generator().manual_seed(1)
    v = torch.as_tensor(v, dtype=torch.float64)
    v = v + 0.01 * torch.randn(len(VIEWS), *v.shape, generator=g, dtype=torch.float64)
    return v.to(dtype), torch.as_tensor(f)


def _open_mesh(dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The sphere with every third face removed: boundary edges and unused vertices."""
    v, f = _sphere(dtype)
    return v, f[torch.arange(f.shape[0]) % 3 != 0]


def _split_mesh(dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The sphere with vertex 0 duplicated as a new index used by its first face: equal
    positions under different indices (the position rule joins what indices split)."""
    v, f = _sphere(dtype)
    f = f.clone()
    first = int(torch.nonzero((f == 0).any(dim=1))[0])
    f[first][f[first] == 0] = v.shape[1]
    return torch.cat([v, v[:, :1]], dim=1), f


def _batched(dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image faces ``[B, F, 3]``: the sphere's, the second image's windings flipped."""
    v, f = _sphere(dtype)
    faces = f.expand(len(VIEWS), -1, -1).clone()
    faces[1] = faces[1].flip(1)
    return v, faces


MESHES = {"closed": _sphere, "boundary": _open_mesh, "split": _split_mesh,
          "batched": _batched}


def _run(renderer, v, faces, new: bool):
    """``(silhouettes, d sum(s * w) / d v)`` of one path."""
    v = v.detach().clone().requires_grad_(True)
    camera = Camera.benchmark(VIEWS)
    if new:
        sil = renderer.render(v, faces, camera)
    else:
        sil = renderer.rasterize(gather_faces(camera.project(v), faces))
    w = torch.linspace(0.5, 1.5, sil[0].numel(), dtype=sil.dtype).reshape(sil.shape[1:])
    (sil * w).sum().backward()
    return sil.detach(), v.grad


@pytest.mark.parametrize("mesh", sorted(MESHES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_render_equals_gathered_rasterize(name, dtype, mesh):
    r = renderers.build(name, image_size=24)
    v, faces = MESHES[mesh](dtype)
    old_sil, old_grad = _run(r, v, faces, new=False)
    new_sil, new_grad = _run(r, v, faces, new=True)
    assert torch.equal(new_sil, old_sil)
    assert old_grad is not None and torch.equal(new_grad, old_grad)
    assert old_sil.sum() > 0


@pytest.mark.parametrize("mesh", ["closed", "boundary"])
def test_mesh_wings_are_the_position_rule(mesh):
    v, faces = MESHES[mesh](torch.float64)
    screen = Camera.benchmark(VIEWS).project(v)
    wings = mesh_wings(screen, faces)
    assert wings is not None
    assert torch.equal(wings, wing_vertices(gather_faces(screen, faces)))


def test_mesh_wings_fall_back_on_shared_positions():
    v, faces = _split_mesh(torch.float64)
    screen = Camera.benchmark(VIEWS).project(v)
    assert not positions_distinct(screen)
    assert mesh_wings(screen, faces) is None
    assert positions_distinct(screen[:, :-1])


def test_positions_distinct_needs_all_three_coordinates():
    v = torch.tensor([[[0.0, 1.0, 2.0], [0.0, 1.0, 3.0], [0.0, 2.0, 2.0], [-0.0, 1.0, 2.0]]])
    assert not positions_distinct(v)  # rows 0 and 3 (-0.0 == 0.0)
    assert positions_distinct(v[:, :3])


def _equal_rows_exist(v: torch.Tensor) -> bool:
    """The rule itself, pair by pair: two vertices of one image equal in x, y and z."""
    same = (v[:, :, None, :] == v[:, None, :, :]).all(dim=-1)
    off_diagonal = ~torch.eye(v.shape[1], dtype=torch.bool)
    return bool((same & off_diagonal).any())


# Few distinct coordinate values (with -0.0 and 0.0 both), so that equal x, equal
# positions and non-finite values all come up.
_COORD = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-300, float("inf")])


@given(data=st.data(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_positions_distinct_is_the_pairwise_rule(data, dtype):
    nb = data.draw(st.integers(1, 3))
    nv = data.draw(st.integers(0, 7))
    rows = data.draw(st.lists(st.lists(st.tuples(_COORD, _COORD, _COORD), min_size=nv,
                                       max_size=nv), min_size=nb, max_size=nb))
    v = torch.tensor(rows, dtype=dtype).reshape(nb, nv, 3)
    assert positions_distinct(v) == (not _equal_rows_exist(v))


def test_positions_distinct_sees_through_a_shared_key():
    # distinct positions whose keys x + w_y y + w_z z are equal (both 0): the exact test
    # decides, in both directions
    w_y = KEY_WEIGHTS[0]
    v = torch.tensor([[[0.0, 0.0, 0.0], [w_y, -1.0, 0.0], [3.0, 3.0, 3.0]]],
                     dtype=torch.float64)
    assert positions_distinct(v)
    assert not positions_distinct(torch.cat([v, v[:, 1:2]], dim=1))


def test_cache_is_not_fooled_by_changed_faces():
    r = renderers.build("antialias", image_size=24)
    v, faces = _sphere(torch.float64)
    camera = Camera.benchmark(VIEWS)
    r.render(v, faces, camera)  # caches this topology
    flipped = faces.clone()
    flipped[: faces.shape[0] // 2] = flipped[: faces.shape[0] // 2].flip(1)
    for f in (flipped, faces[1:], _open_mesh(torch.float64)[1]):
        want = r.rasterize(gather_faces(camera.project(v), f))
        assert torch.equal(r.render(v, f, camera), want)
    faces[:5] = faces[:5].roll(1, dims=0)  # edited in place: a new content
    assert torch.equal(r.render(v, faces, camera),
                       r.rasterize(gather_faces(camera.project(v), faces)))


def test_topology_cache_keys_content_and_bounds_size():
    cache, calls = TopologyCache(), []

    def compute(f):
        calls.append(1)
        return f.sum()

    a = torch.arange(12).reshape(4, 3)
    assert cache.get(a, "t", compute) == 66 and cache.get(a.clone(), "t", compute) == 66
    assert len(calls) == 1
    cache.get(a, "other tag", compute)
    a[0, 0] = 5
    assert cache.get(a, "t", compute) == 71 and len(calls) == 3
    for k in range(2 * CAPACITY):
        cache.get(torch.full((2, 3), k), "t", compute)
    assert len(cache) == CAPACITY
