"""Losses of Eq. 3-6 against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench_softras.experiments.losses import (
    flatten_cosines,
    flatten_loss,
    iou_loss,
    laplacian_coordinates,
    laplacian_loss,
    mesh_topology,
    multiview_iou_loss,
    regularizers,
)


def hexagon_fan(z_centre: float = 0.0):
    """A regular hexagon of unit radius in the xy plane triangulated as a fan around a
    centre vertex (index 0) lifted to ``z_centre``."""
    ring = [(math.cos(k * math.pi / 3), math.sin(k * math.pi / 3), 0.0) for k in range(6)]
    v = torch.tensor([(0.0, 0.0, z_centre)] + ring, dtype=torch.float64)
    f = torch.tensor([(0, 1 + k, 1 + (k + 1) % 6) for k in range(6)])
    return v, f


def two_triangles(v3):
    v = torch.tensor([(0.0, 0, 0), (1.0, 0, 0), (0.5, 1.0, 0), v3], dtype=torch.float64)
    f = torch.tensor([(0, 1, 2), (1, 0, 3)])
    return v, f


def test_iou_loss_hand_computed():
    pred = torch.tensor([[[1.0, 0.0], [0.5, 0.0]]])
    target = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    # intersection 1; union (1 + 1 - 1) + (0 + 1 - 0) + 0.5 + 0 = 2.5
    assert float(iou_loss(pred, target)) == pytest.approx(1 - 1 / 2.5, abs=1e-6)
    assert float(iou_loss(target, target)) == pytest.approx(0.0, abs=1e-6)
    # batch mean of per-image IoUs: (1/2.5 + 1) / 2
    both = iou_loss(torch.cat([pred, target]), torch.cat([target, target]))
    assert float(both) == pytest.approx(1 - (0.4 + 1.0) / 2, abs=1e-6)


def test_iou_loss_empty_pair_is_finite_and_shapes_checked():
    z = torch.zeros(1, 3, 3, requires_grad=True)
    loss = iou_loss(z, torch.zeros(1, 3, 3))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="shape"):
        iou_loss(torch.zeros(1, 3, 3), torch.zeros(1, 3, 4))


def test_multiview_iou_loss_pairs_renders_with_the_right_targets():
    a = torch.zeros(1, 2, 2)
    a[0, 0, 0] = 1
    b = torch.zeros(1, 2, 2)
    b[0, 1, 1] = 1
    # [Ma@Va, Mb@Va, Ma@Vb, Mb@Vb] must match [a, a, b, b]
    assert float(multiview_iou_loss(torch.cat([a, a, b, b]), a, b)) == pytest.approx(0, abs=1e-5)
    assert float(multiview_iou_loss(torch.cat([a, b, a, b]), a, b)) == pytest.approx(0.5, abs=1e-5)
    with pytest.raises(ValueError, match="4B"):
        multiview_iou_loss(torch.cat([a, a, b]), a, b)


def test_topology_of_a_tetrahedron():
    f = np.array([[0, 1, 2], [0, 3, 1], [1, 3, 2], [2, 3, 0]])
    topo = mesh_topology(f)
    assert topo.num_vertices == 4
    assert topo.edges.shape == (6, 2) and (topo.edges[:, 0] < topo.edges[:, 1]).all()
    assert topo.degree.tolist() == [3, 3, 3, 3]
    assert topo.flat_edges.shape == (6, 4)
    # each row: an edge and the two opposite vertices, all four distinct
    for row in topo.flat_edges.tolist():
        assert len(set(row)) == 4


def test_topology_of_the_template_sphere(template):
    _, f = template
    topo = mesh_topology(f)
    assert topo.edges.shape[0] == 1920  # closed genus-0: E = 3F/2
    assert topo.flat_edges.shape[0] == 1920  # every edge interior
    assert set(topo.degree.tolist()) == {5.0, 6.0}


@pytest.mark.parametrize("bad, exc", [
    (np.zeros((0, 3), dtype=np.int64), ValueError),
    (np.array([[0, 1]]), ValueError),
    (np.array([[0.0, 1.0, 2.0]]), TypeError),
    (np.array([[0, 1, 1]]), ValueError),
    (np.array([[0, 1, -1]]), IndexError),
])
def test_topology_rejects_bad_faces(bad, exc):
    with pytest.raises(exc):
        mesh_topology(bad)


def test_laplacian_of_a_hexagon_fan_hand_computed():
    v, f = hexagon_fan()
    topo = mesh_topology(f)
    delta = laplacian_coordinates(v[None], topo)[0]
    # centre: the mean of its six ring neighbours is itself
    assert torch.allclose(delta[0], torch.zeros(3, dtype=v.dtype), atol=1e-12)
    # ring vertex: neighbours centre, i-1, i+1 -> mean v_i / 3, delta = 2/3 v_i
    assert torch.allclose(delta[1:], 2 / 3 * v[1:], atol=1e-12)
    assert float(laplacian_loss(v[None], topo)[0]) == pytest.approx(6 * 4 / 9)
    # translation invariant, quadratic in scale
    shifted = laplacian_loss((v + torch.tensor([0.3, -2.0, 1.0], dtype=v.dtype))[None], topo)
    assert float(shifted[0]) == pytest.approx(8 / 3)
    assert float(laplacian_loss(3 * v[None], topo)[0]) == pytest.approx(9 * 8 / 3)


def test_laplacian_points_outward_on_the_sphere(template):
    v, f = template
    delta = laplacian_coordinates(v[None], mesh_topology(f))[0]
    assert ((delta * v).sum(-1) > 0).all()


def test_flatten_zero_for_a_flat_fan_and_positive_when_bent():
    v, f = hexagon_fan()
    topo = mesh_topology(f)
    assert float(flatten_loss(v[None], topo)[0]) == pytest.approx(0.0, abs=1e-9)
    bent, _ = hexagon_fan(z_centre=0.5)
    assert float(flatten_loss(bent[None], topo)[0]) > 0.01


@pytest.mark.parametrize("v3, cos, loss", [
    ((0.5, -1.0, 0.0), -1.0, 0.0),  # coplanar, unfolded
    ((0.5, 0.0, 1.0), 0.0, 1.0),  # right dihedral angle
    ((0.3, 2.0, 0.0), 1.0, 4.0),  # folded onto the other face
])
def test_flatten_of_two_triangles_hand_computed(v3, cos, loss):
    v, f = two_triangles(v3)
    topo = mesh_topology(f)
    assert topo.flat_edges.tolist() == [[0, 1, 2, 3]]
    assert float(flatten_cosines(v[None], topo)[0, 0]) == pytest.approx(cos, abs=1e-9)
    assert float(flatten_loss(v[None], topo)[0]) == pytest.approx(loss, abs=1e-9)


def test_regularizer_gradients_finite_on_degenerate_faces():
    v, f = two_triangles((0.0, 0.0, 0.0))  # v3 on top of v0: zero-area face
    v = v.clone().requires_grad_()
    total, parts = regularizers(v[None], mesh_topology(f), 0.01, 0.001)
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(v.grad).all()
    assert set(parts) == {"laplacian", "flatten"}


def test_regularizer_switches_and_weights():
    v, f = hexagon_fan(z_centre=0.5)
    topo = mesh_topology(f)
    lap = float(laplacian_loss(v[None], topo)[0])
    fl = float(flatten_loss(v[None], topo)[0])
    total, parts = regularizers(v[None], topo, 0.5, 2.0)
    assert float(total) == pytest.approx(0.5 * lap + 2.0 * fl)
    total, parts = regularizers(v[None], topo, 0.5, 2.0, use_laplacian=False)
    assert float(total) == pytest.approx(2.0 * fl) and math.isnan(parts["laplacian"])
    total, _ = regularizers(v[None], topo, 0.5, 2.0, use_laplacian=False, use_flatten=False)
    assert float(total) == 0.0


def test_vertex_count_must_match_the_topology(template):
    v, f = template
    with pytest.raises(ValueError, match="topology"):
        laplacian_loss(v[None, :100], mesh_topology(f))
