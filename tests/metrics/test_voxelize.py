"""metrics.voxelize on the 32^3 grid over [-0.5, 0.5]^3: the centre rule (surface=False)
and the official N3MR/SoftRas rule (surface=True: surface voxels OR centre inside).

Centre rule, discretization error.  A voxel of edge h counts as occupied iff its centre is inside.
Every point of a voxel lies within delta = sqrt(3) h / 2 of its centre, so a voxel that is
wrongly counted (partly outside but centre inside, or vice versa) lies entirely within
distance delta of the surface.  Hence |N h^3 - vol(K)| <= vol(K + delta B) - vol(K - delta B)
(outer minus inner parallel body).  For a ball of radius r this is
4/3 pi ((r + delta)^3 - (r - delta)^3); for a cube of side s (Steiner formula)
s^3 + 6 s^2 delta + 3 pi s delta^2 + 4/3 pi delta^3 - (s - 2 delta)^3.  For an axis-aligned
box the count is exact: the product over axes of the number of centres in each interval.

Surface rule (metrics/voxels.py docstring).  In grid units u = (x + 0.5) R voxel i is the
cell [i, i + 1).  A voxel is a surface voxel iff it holds a vertex (floor) or a closed
triangle meets one of the lattice lines carrying its edges at a point of the edge's
half-open extent.  Every surface voxel therefore meets the surface, so its centre lies
within DELTA of it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metrics import connected_parts, template_sphere, voxelize
from metrics.open3d_import import open3d
from metrics.voxel_grid import voxel_centers, voxel_centers_1d, voxel_size
from metrics.voxels import surface_voxels

R = 32
H = voxel_size(R)
DELTA = math.sqrt(3) * H / 2


def box_mesh(lo, hi):
    o3d = open3d()
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    m = o3d.geometry.TriangleMesh.create_box(*(hi - lo))
    m.translate(lo)
    return np.asarray(m.vertices).copy(), np.asarray(m.triangles).astype(np.int64)


def centres_in(lo, hi):
    c = voxel_centers_1d(R)
    return (c > lo) & (c < hi)


def box_count(lo, hi):
    return int(np.prod([centres_in(a, b).sum() for a, b in zip(lo, hi, strict=True)]))


def rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def test_axis_aligned_box_is_exact_centre_count():
    lo, hi = (-0.31, -0.22, -0.4), (0.27, 0.33, 0.05)
    v, f = box_mesh(lo, hi)
    occ = voxelize(v, f, surface=False)
    assert occ.shape == (R, R, R) and occ.dtype == bool
    expected = (centres_in(lo[0], hi[0])[:, None, None] & centres_in(lo[1], hi[1])[None, :, None]
                & centres_in(lo[2], hi[2])[None, None, :])
    np.testing.assert_array_equal(occ, expected)


def test_rotated_cube_pointwise_and_volume_within_discretization_bound():
    s = 0.55
    rot, shift = rotation((1, 2, 3), 0.7), np.array([0.02, -0.03, 0.01])
    v, f = box_mesh((-s / 2,) * 3, (s / 2,) * 3)
    occ = voxelize(v @ rot.T + shift, f, surface=False)
    # Pointwise: a centre is inside iff its cube-frame coordinates are all below s/2
    # (centres within 1e-5 of the surface are left out: float32 ray casting).
    q = np.abs((voxel_centers(R) - shift) @ rot).max(axis=-1)
    clear = np.abs(q - s / 2) > 1e-5
    np.testing.assert_array_equal(occ[clear], (q < s / 2)[clear])
    vol = occ.sum() * H**3
    bound = (s**3 + 6 * s**2 * DELTA + 3 * math.pi * s * DELTA**2 + 4 / 3 * math.pi * DELTA**3
             - (s - 2 * DELTA) ** 3)
    assert abs(vol - s**3) <= bound < s**3


def test_sphere_occupancy_pointwise_and_volume():
    o3d = open3d()
    r = 0.42
    m = o3d.geometry.TriangleMesh.create_sphere(radius=r, resolution=40)
    v, f = np.asarray(m.vertices), np.asarray(m.triangles).astype(np.int64)
    # Inradius of the inscribed polyhedron: distance from the origin to the nearest face plane.
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    r_in = np.abs((n * tri[:, 0]).sum(axis=1)).min()
    occ = voxelize(v, f, surface=False)
    dist = np.linalg.norm(voxel_centers(R), axis=-1)
    assert occ[dist < r_in - 1e-9].all()
    assert not occ[dist > r + 1e-9].any()
    vol = occ.sum() * H**3
    bound = 4 / 3 * math.pi * ((r + DELTA) ** 3 - (r_in - DELTA) ** 3)
    assert abs(vol - 4 / 3 * math.pi * r**3) <= bound


def test_overlapping_parts_give_the_union_not_parity():
    lo1, hi1 = (-0.4, -0.25, -0.25), (0.1, 0.25, 0.25)
    lo2, hi2 = (-0.1, -0.25, -0.25), (0.4, 0.25, 0.25)
    v1, f1 = box_mesh(lo1, hi1)
    v2, f2 = box_mesh(lo2, hi2)
    v = np.concatenate([v1, v2])
    f = np.concatenate([f1, f2 + len(v1)])
    assert np.array_equal(connected_parts(v, f), np.repeat([0, 1], 12))
    union = box_count((-0.4, -0.25, -0.25), (0.4, 0.25, 0.25))
    occ = voxelize(v, f, surface=False)
    assert occ.sum() == union
    # Explicit per-face part ids give the same union.
    assert np.array_equal(voxelize(v, f, parts=np.repeat([5, 9], 12), surface=False), occ)
    # Plain ray parity on the combined mesh does not (the overlap comes out empty).
    assert voxelize(v, f, parts="whole", surface=False).sum() < union
    # With the surface rule the overlap is solid too: union of the parts' interiors and
    # every surface voxel, and nothing else.
    solid = voxelize(v, f)
    assert solid[occ].all()
    np.testing.assert_array_equal(solid, occ | surface_voxels(v, f))
    assert not (solid & ~occ)[:, 12:20, 12:20].any()  # the faces lie outside this core


def test_unwelded_vertices_still_form_one_closed_part():
    v, f = box_mesh((-0.3, -0.3, -0.3), (0.3, 0.3, 0.3))
    v_dup = v[f].reshape(-1, 3)  # every face has its own three vertices
    f_dup = np.arange(len(v_dup)).reshape(-1, 3)
    assert connected_parts(v_dup, f_dup).max() == 0
    np.testing.assert_array_equal(voxelize(v_dup, f_dup), voxelize(v, f))


def test_batched_inputs_numpy_torch_and_lists():
    v, f = box_mesh((-0.3, -0.3, -0.3), (0.3, 0.3, 0.3))
    single = voxelize(v, f, surface=False)
    batch = np.stack([v, 0.5 * v])
    out = voxelize(batch, f, surface=False)
    assert out.shape == (2, R, R, R)
    np.testing.assert_array_equal(out[0], single)
    assert out[1].sum() == box_count((-0.15,) * 3, (0.15,) * 3)
    np.testing.assert_array_equal(
        voxelize(torch.from_numpy(batch), torch.from_numpy(f), surface=False), out)
    np.testing.assert_array_equal(voxelize(torch.from_numpy(v).float(), f, surface=False), single)
    # A list of meshes of different sizes, and faces per mesh.
    o3d = open3d()
    s = o3d.geometry.TriangleMesh.create_sphere(radius=0.3, resolution=10)
    sv, sf = np.asarray(s.vertices), np.asarray(s.triangles)
    out = voxelize([v, sv], [f, sf])
    assert out.shape == (2, R, R, R)
    np.testing.assert_array_equal(out[1], voxelize(sv, sf))
    assert voxelize(v, f, resolution=8).shape == (8, 8, 8)


def test_empty_and_outside_meshes():
    assert not voxelize(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)).any()
    v, f = box_mesh((0.6, 0.6, 0.6), (0.9, 0.9, 0.9))  # entirely outside the grid
    assert not voxelize(v, f).any()


def test_bad_inputs_raise():
    v, f = box_mesh((-0.3,) * 3, (0.3,) * 3)
    with pytest.raises(ValueError, match="vertices"):
        voxelize(v[:, :2], f)
    with pytest.raises(IndexError, match="out of range"):
        voxelize(v, f + 100)
    with pytest.raises(ValueError, match="NaN"):
        voxelize(np.where(v > 0, np.nan, v), f)
    with pytest.raises(ValueError, match="nsamples"):
        voxelize(v, f, nsamples=2)
    with pytest.raises(ValueError, match="one id per face"):
        voxelize(v, f, parts=np.zeros(3))
    with pytest.raises(ValueError, match="meshes but"):
        voxelize([v, v], [f])


# ---------------------------------------------------------------- the surface rule


def cells(lo, hi):
    """Indices of the voxels whose half-open cells [i, i + 1) (grid units) meet [lo, hi]
    along one axis (world units)."""
    return np.arange(math.floor((lo + 0.5) * R), math.floor((hi + 0.5) * R) + 1)


def o3d_conservative(v, f):
    """open3d's conservative voxelization (every voxel whose cube a triangle touches),
    mapped to our indices: its grid index, with origin -0.5 and voxel size 1/R, is ours."""
    o3d = open3d()
    m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(v),
                                  o3d.utility.Vector3iVector(f.astype(np.int32)))
    vg = o3d.geometry.VoxelGrid.create_from_triangle_mesh_within_bounds(
        m, H, np.full(3, -0.5), np.full(3, 0.5))
    idx = np.array([x.grid_index for x in vg.get_voxels()], dtype=np.int64).reshape(-1, 3)
    out = np.zeros((R, R, R), dtype=bool)
    out[tuple(idx.T)] = True
    return out


def slab(i, j, k):
    out = np.zeros((R, R, R), dtype=bool)
    out[np.ix_(i, j, k)] = True
    return out


@pytest.mark.parametrize("y_range, layers", [
    ((0.005, 0.015), [16]),       # u in [16.16, 16.48]: inside one layer of cells
    ((-0.005, 0.005), [15, 16]),  # u in [15.84, 16.16]: straddles the lattice plane u = 16
])
def test_thin_plate_is_a_slab_of_the_cells_it_meets(y_range, layers):
    lo, hi = (-0.4, y_range[0], -0.4), (0.4, y_range[1], 0.4)
    v, f = box_mesh(lo, hi)
    assert not voxelize(v, f, surface=False).any()  # no voxel centre inside the plate
    expected = slab(cells(-0.4, 0.4), np.array(layers), cells(-0.4, 0.4))
    assert expected.sum() == 26 * len(layers) * 26  # x in [3.2, 28.8]: cells 3..28
    np.testing.assert_array_equal(voxelize(v, f), expected)
    np.testing.assert_array_equal(voxelize(v, f, fill="flood"), expected)
    np.testing.assert_array_equal(o3d_conservative(v, f), expected)


def test_thin_rod_kept_only_where_a_voxel_edge_pierces_it():
    # Cross-section 0.01 x 0.01 (a third of a voxel), along y over [-0.3, 0.3]
    # (u in [6.4, 25.6]: cells 6..25).  z in [0.003, 0.013]: u in [16.096, 16.416].
    z = (0.003, 0.013)
    # Straddling the lattice plane x = 0 (u = 16): the z-faces meet the lattice lines
    # (u_x = 16, u_y = 7..25) along z, marking the columns on both sides of them.
    v, f = box_mesh((-0.005, -0.3, z[0]), (0.005, 0.3, z[1]))
    np.testing.assert_array_equal(voxelize(v, f), slab([15, 16], cells(-0.3, 0.3), [16]))
    # Between lattice planes in both x and z: no lattice line meets it, so (as in the
    # official voxelizer) only the voxels of its vertices are kept; the conservative
    # cube-touching test keeps the whole column.
    v, f = box_mesh((0.003, -0.3, z[0]), (0.013, 0.3, z[1]))
    np.testing.assert_array_equal(voxelize(v, f), slab([16], [6, 25], [16]))
    np.testing.assert_array_equal(o3d_conservative(v, f), slab([16], cells(-0.3, 0.3), [16]))


def aligned_box_expected(c0, c1):
    """The surface rule on a box whose faces lie on the lattice planes u = c0[d], c1[d]
    (integers).  A face on u_d = c marks layer c (floor: upper side) in every column whose
    edge lines meet the closed face: indices c0[e] - 1 .. c1[e] along the other axes e.
    Inside (centre rule): c0[d] .. c1[d] - 1."""
    wide = [np.arange(a - 1, b + 1) for a, b in zip(c0, c1, strict=True)]
    out = slab(*[np.arange(a, b) for a, b in zip(c0, c1, strict=True)])
    for d in range(3):
        for c in (c0[d], c1[d]):
            idx = list(wide)
            idx[d] = np.array([c])
            out |= slab(*idx)
    return out


def test_box_aligned_to_voxel_faces_boundary_rule():
    c0, c1 = np.array([6, 10, 13]), np.array([18, 20, 25])  # cells per axis n = 12, 10, 12
    v, f = box_mesh(c0 / R - 0.5, c1 / R - 0.5)
    expected = aligned_box_expected(c0, c1)
    # Closed form: of the (n + 2)^3 wide box, the voxels on no face layer and outside the
    # interior are missing; along each axis those have n choices (c0 - 1 or the n - 1
    # interior non-face ones), minus the (n - 1)^3 all-interior ones.
    n = c1 - c0
    assert expected.sum() == np.prod(n + 2) - np.prod(n) + np.prod(n - 1)
    np.testing.assert_array_equal(voxelize(v, f), expected)
    np.testing.assert_array_equal(voxelize(v, f, fill="flood"), expected)


def square_x(x, y=(-0.2, 0.2), z=(-0.2, 0.2)):
    """An open rectangle in the plane x = const over y and z ranges (two triangles)."""
    v = np.array([[x, y[0], z[0]], [x, y[1], z[0]], [x, y[1], z[1]], [x, y[0], z[1]]])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


@pytest.mark.parametrize("u, layer", [
    (0, 0), (1, 1), (17, 17), (R - 1, R - 1),  # on a lattice plane: the upper-side layer
    (R, None),                                 # the grid's far face: layer R, outside
    (0.5, 0), (R - 0.5, R - 1),                # inside a layer
])
def test_grid_bounds_no_off_by_one(u, layer):
    rim = cells(-0.2, 0.2)  # u in [9.6, 22.4]: cells 9..22
    assert rim[0] == 9 and rim[-1] == 22
    v, f = square_x(u / R - 0.5)
    expected = np.zeros((R, R, R), bool) if layer is None else slab([layer], rim, rim)
    np.testing.assert_array_equal(surface_voxels(v, f), expected)


def test_lattice_lines_on_the_far_grid_face_count():
    # A strip in the plane u_x = 16.3 with u_y in [31.5, 32]: the only lattice lines (along
    # x) that meet it are those on the grid's far face u_y = R, which carry the upper edges
    # of the voxels j = R - 1.  Its vertices only reach the two end voxels.
    top = (0.5 - 0.5 * H, 0.5)
    v, f = square_x(16.3 / R - 0.5, y=top)
    np.testing.assert_array_equal(surface_voxels(v, f), slab([16], [R - 1], cells(-0.2, 0.2)))
    v, f = square_x(16.3 / R - 0.5, z=top)  # the same along the other transverse axis
    np.testing.assert_array_equal(surface_voxels(v, f), slab([16], cells(-0.2, 0.2), [R - 1]))


def test_corner_voxels_and_enclosing_box():
    # Tiny triangles in the two corner voxels land in [0, 0, 0] and.
    tri = np.array([[0, 0, 0], [0.3, 0, 0], [0, 0.3, 0.3]]) * H
    v = np.concatenate([tri - 0.5 + 0.1 * H, 0.5 - 0.1 * H - tri])
    occ = surface_voxels(v, np.array([[0, 1, 2], [3, 4, 5]]))
    assert occ.sum() == 2 and occ[0, 0, 0] and occ[-1, -1, -1]
    # A box enclosing the whole grid: no surface inside it, every centre inside.
    v, f = box_mesh((-0.7,) * 3, (0.7,) * 3)
    assert not surface_voxels(v, f).any() and voxelize(v, f).all()


def sphere(r, shift, resolution=20):
    o3d = open3d()
    m = o3d.geometry.TriangleMesh.create_sphere(radius=r, resolution=resolution)
    v = np.asarray(m.vertices) + shift
    return v, np.asarray(m.triangles).astype(np.int64)


def test_sphere_surface_shell_bounds():
    r, shift = 0.41, np.array([0.0123, -0.0071, 0.0037])  # generic: no ties
    v, f = sphere(r, shift)
    tri = v[f] - shift
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    r_in = np.abs((n * tri[:, 0]).sum(axis=1)).min()  # the surface lies in r_in <= |p| <= r
    centre = voxelize(v, f, surface=False)
    occ = voxelize(v, f)
    extra = occ & ~centre
    assert occ[centre].all() and extra.sum() > 0
    # Every surface voxel meets the surface, so its centre is within DELTA of it.
    dist = np.linalg.norm(voxel_centers(R) - shift, axis=-1)
    assert (dist[extra] >= r_in - DELTA).all() and (dist[extra] <= r + DELTA).all()
    # Hence the extra volume lies in the shell r_in - 2 DELTA <= |p| <= r + 2 DELTA.
    shell = 4 / 3 * math.pi * ((r + 2 * DELTA) ** 3 - (r_in - 2 * DELTA) ** 3)
    assert extra.sum() * H**3 <= shell
    # Complete: a voxel with a corner strictly inside and one strictly outside has an edge
    # crossing the surface, so it is a surface voxel.
    corners = np.arange(R + 1) * H - 0.5
    cd = np.linalg.norm(np.stack(np.meshgrid(corners, corners, corners, indexing="ij"), -1)
                        - shift, axis=-1)
    sub = [(slice(None, -1), slice(1, None))] * 3
    stack = np.stack([cd[a, b, c] for a in sub[0] for b in sub[1] for c in sub[2]])
    straddles = (stack.min(axis=0) < r_in) & (stack.max(axis=0) > r)
    assert straddles.sum() > 1000 and surface_voxels(v, f)[straddles].all()
    # On a closed mesh without thin parts the rule equals the conservative test.
    np.testing.assert_array_equal(surface_voxels(v, f), o3d_conservative(v, f))
    np.testing.assert_array_equal(voxelize(v, f, fill="flood"), occ)


def test_template_sphere_batched_like_single_and_torch():
    v, f = template_sphere(3)  # 1280 faces
    rng = np.random.default_rng(3)
    batch = np.stack([v * 0.8 + rng.normal(0, 0.02, v.shape) for _ in range(3)])
    out = voxelize(batch, f)
    for i in range(3):
        np.testing.assert_array_equal(out[i], voxelize(batch[i], f))
        assert (out[i] & ~voxelize(batch[i], f, surface=False)).any()
    np.testing.assert_array_equal(voxelize(torch.from_numpy(batch), torch.from_numpy(f)), out)
    np.testing.assert_array_equal(voxelize(list(batch), [f] * 3), out)
    np.testing.assert_array_equal(voxelize(batch, f, fill="flood")[0],
                                  voxelize(batch[0], f, fill="flood"))


def test_flood_fill_fills_sealed_cavities_parity_does_not():
    # A hollow ball: outer sphere plus an inner one, as one part (plain parity).
    vo, fo = sphere(0.4, 0.0)
    vi, fi = sphere(0.2, 0.0)
    v, f = np.concatenate([vo, vi]), np.concatenate([fo, fi + len(vo)])
    parity = voxelize(v, f, parts="whole")
    flood = voxelize(v, f, fill="flood")
    dist = np.linalg.norm(voxel_centers(R), axis=-1)
    cavity = dist < 0.2 * math.cos(math.pi / 20) - DELTA  # clear of the inner shell
    assert cavity.sum() > 100
    assert flood[cavity].all() and not parity[cavity].any()
    np.testing.assert_array_equal(flood, voxelize(vo, fo, fill="flood") | surface_voxels(v, f))


def test_surface_bad_inputs_raise():
    v, f = box_mesh((-0.3,) * 3, (0.3,) * 3)
    with pytest.raises(TypeError, match="surface"):
        voxelize(v, f, surface="yes")
    with pytest.raises(ValueError, match="fill"):
        voxelize(v, f, fill="bfs")
    with pytest.raises(ValueError, match="surface=True"):
        voxelize(v, f, surface=False, fill="flood")
    with pytest.raises(ValueError, match="vertices"):
        surface_voxels(v[:, :2], f)
    with pytest.raises(IndexError, match="out of range"):
        surface_voxels(v, f + 100)
