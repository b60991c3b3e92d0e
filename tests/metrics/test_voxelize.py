"""metrics.voxelize: solid occupancy of voxel centres on the 32^3 grid over [-0.5, 0.5]^3.

Discretization error.  A voxel of edge h counts as occupied iff its centre is inside.
Every point of a voxel lies within delta = sqrt(3) h / 2 of its centre, so a voxel that is
wrongly counted (partly outside but centre inside, or vice versa) lies entirely within
distance delta of the surface.  Hence |N h^3 - vol(K)| <= vol(K + delta B) - vol(K - delta B)
(outer minus inner parallel body).  For a ball of radius r this is
4/3 pi ((r + delta)^3 - (r - delta)^3); for a cube of side s (Steiner formula)
s^3 + 6 s^2 delta + 3 pi s delta^2 + 4/3 pi delta^3 - (s - 2 delta)^3.  For an axis-aligned
box the count is exact: the product over axes of the number of centres in each interval.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metrics import connected_parts, voxelize
from metrics.open3d_import import open3d
from metrics.voxel_grid import voxel_centers, voxel_centers_1d, voxel_size

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
    occ = voxelize(v, f)
    assert occ.shape == (R, R, R) and occ.dtype == bool
    expected = (centres_in(lo[0], hi[0])[:, None, None] & centres_in(lo[1], hi[1])[None, :, None]
                & centres_in(lo[2], hi[2])[None, None, :])
    np.testing.assert_array_equal(occ, expected)


def test_rotated_cube_pointwise_and_volume_within_discretization_bound():
    s = 0.55
    rot, shift = rotation((1, 2, 3), 0.7), np.array([0.02, -0.03, 0.01])
    v, f = box_mesh((-s / 2,) * 3, (s / 2,) * 3)
    occ = voxelize(v @ rot.T + shift, f)
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
    occ = voxelize(v, f)
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
    occ = voxelize(v, f)
    assert occ.sum() == union
    # Explicit per-face part ids give the same union.
    assert np.array_equal(voxelize(v, f, parts=np.repeat([5, 9], 12)), occ)
    # Plain ray parity on the combined mesh does not (the overlap comes out empty).
    assert voxelize(v, f, parts="whole").sum() < union


def test_unwelded_vertices_still_form_one_closed_part():
    v, f = box_mesh((-0.3, -0.3, -0.3), (0.3, 0.3, 0.3))
    v_dup = v[f].reshape(-1, 3)  # every face has its own three vertices
    f_dup = np.arange(len(v_dup)).reshape(-1, 3)
    assert connected_parts(v_dup, f_dup).max() == 0
    np.testing.assert_array_equal(voxelize(v_dup, f_dup), voxelize(v, f))


def test_batched_inputs_numpy_torch_and_lists():
    v, f = box_mesh((-0.3, -0.3, -0.3), (0.3, 0.3, 0.3))
    single = voxelize(v, f)
    batch = np.stack([v, 0.5 * v])
    out = voxelize(batch, f)
    assert out.shape == (2, R, R, R)
    np.testing.assert_array_equal(out[0], single)
    assert out[1].sum() == box_count((-0.15,) * 3, (0.15,) * 3)
    np.testing.assert_array_equal(voxelize(torch.from_numpy(batch), torch.from_numpy(f)), out)
    np.testing.assert_array_equal(voxelize(torch.from_numpy(v).float(), f), single)
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
