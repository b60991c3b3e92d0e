"""metrics.chamfer: mean squared nearest-neighbour distance, both directions, summed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics import chamfer, sample_surface, template_sphere


def test_point_clouds_by_hand():
    assert chamfer(np.zeros((1, 3)), np.array([[3.0, 4.0, 0.0]])) == pytest.approx(50.0)
    assert chamfer(np.zeros((1, 3)), np.array([[3.0, 4.0, 0.0]]), squared=False) == \
        pytest.approx(10.0)
    # A grid (spacing 1) and a copy shifted by 0.1: every nearest neighbour is the shifted
    # twin, so each direction gives 0.01.
    g = np.stack(np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    assert chamfer(g, g) == 0.0
    assert chamfer(g, g + [0.1, 0, 0]) == pytest.approx(0.02)
    # Asymmetric sets: A = {0}, B = {0, 2}: A->B gives 0, B->A gives (0 + 4) / 2.
    a, b = np.zeros((1, 3)), np.array([[0.0, 0, 0], [2.0, 0, 0]])
    assert chamfer(a, b) == pytest.approx(2.0) == chamfer(b, a)


def test_mesh_sampling_is_on_the_surface_and_seeded():
    v, f = template_sphere()
    p = sample_surface(v, f, 3000, seed=1)
    assert p.shape == (3000, 3)
    # On the inscribed polyhedron: radius between its inradius and 0.5.
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    r_in = np.abs((n / np.linalg.norm(n, axis=1, keepdims=True) * tri[:, 0]).sum(1)).min()
    radius = np.linalg.norm(p, axis=1)
    assert radius.min() >= r_in - 1e-9 and radius.max() <= 0.5 + 1e-9
    np.testing.assert_array_equal(p, sample_surface(v, f, 3000, seed=1))
    assert not np.array_equal(p, sample_surface(v, f, 3000, seed=2))


def test_concentric_spheres_and_batches():
    v, f = template_sphere()
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    r_in = np.abs((n / np.linalg.norm(n, axis=1, keepdims=True) * tri[:, 0]).sum(1)).min()
    # Sphere (radius <= 0.5) vs scaled copy (radius >= 1.2 r_in): every nearest distance is at
    # least 1.2 r_in - 0.5 (radial gap); dense sampling keeps it within 0.01 of that.
    d = chamfer((v, f), (1.2 * v, f), n_points=5000, squared=False)
    gap = 1.2 * r_in - 0.5
    assert 2 * gap <= d <= 2 * gap + 0.02
    # Same mesh, independent samples: small but positive.
    same = chamfer((v, f), (v, f), n_points=5000)
    assert 0 < same < chamfer((v, f), (v + [0.05, 0, 0], f), n_points=5000)
    # torch inputs and batches.
    vt, ft = torch.from_numpy(v), torch.from_numpy(f)
    assert chamfer((vt, ft), (v, f), n_points=5000) == pytest.approx(same)
    got = chamfer([(v, f), np.zeros((1, 3))], [(v, f), np.ones((1, 3))], n_points=5000)
    np.testing.assert_allclose(got, [same, 6.0])


def test_bad_inputs():
    v, f = template_sphere(0)
    with pytest.raises(ValueError, match="point cloud"):
        chamfer(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="empty"):
        chamfer(np.zeros((0, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same length"):
        chamfer([(v, f)], [(v, f), (v, f)])
    with pytest.raises(IndexError):
        chamfer((v, f + 100), (v, f))
