"""The losses as computed now (sparse adjacency, coordinate planes, regrouped IoU sums,
one IoU call for the four cross views) against the formulas they replaced, kept here
verbatim: same values and gradients to float rounding on random meshes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_softras.experiments import losses
from bench_softras.experiments.losses import FLATTEN_EPS, IOU_EPS, MeshTopology, mesh_topology


# -- the former implementations (bench_softras/experiments/losses.py before the change) --
def old_iou_loss(pred, target, eps=IOU_EPS):
    dims = tuple(range(1, pred.dim()))
    target = target.to(pred.dtype)
    inter = (pred * target).sum(dims)
    union = (pred + target - pred * target).sum(dims) + eps
    return 1.0 - (inter / union).mean()


def old_multiview_iou_loss(silhouettes, alpha_a, alpha_b):
    raa, rba, rab, rbb = silhouettes.chunk(4, dim=0)
    return (old_iou_loss(raa, alpha_a) + old_iou_loss(rba, alpha_a)
            + old_iou_loss(rab, alpha_b) + old_iou_loss(rbb, alpha_b)) / 4.0


def old_laplacian_coordinates(vertices, topo):
    i, j = topo.edges[:, 0], topo.edges[:, 1]
    nsum = torch.zeros_like(vertices)
    nsum = nsum.index_add(1, i, vertices[:, j]).index_add(1, j, vertices[:, i])
    deg = topo.degree.to(vertices.dtype)
    mean = nsum / deg.clamp(min=1.0)[None, :, None]
    return torch.where(deg[None, :, None] > 0, vertices - mean, torch.zeros_like(vertices))


def old_flatten_cosines(vertices, topo, eps=FLATTEN_EPS):
    v0, v1, v2, v3 = (vertices[:, topo.flat_edges[:, k]] for k in range(4))
    e = v1 - v0
    e_len2 = (e * e).sum(-1, keepdim=True)

    def perpendicular(p):
        q = p - v0
        return q - e * (q * e).sum(-1, keepdim=True) / (e_len2 + eps)

    p2, p3 = perpendicular(v2), perpendicular(v3)
    n2 = torch.sqrt((p2 * p2).sum(-1) + eps * eps)
    n3 = torch.sqrt((p3 * p3).sum(-1) + eps * eps)
    return (p2 * p3).sum(-1) / (n2 * n3)


def old_regularizer_total(vertices, topo, lam, mu):
    lap = old_laplacian_coordinates(vertices, topo).pow(2).sum(dim=(1, 2)).mean()
    fl = (old_flatten_cosines(vertices, topo) + 1.0).pow(2).sum(dim=1).mean()
    return lam * lap + mu * fl, lap, fl


# -- random meshes ------------------------------------------------------------------
def random_mesh(template, seed: int, dtype, batch: int = 5):
    """The template sphere with a random fifth of its faces dropped (boundary edges),
    two extra vertices in no face (isolated) and every vertex moved at random:
    ``([B, V + 2, 3], topology)``."""
    v, f = template
    rng = np.random.default_rng(seed)
    keep = rng.random(f.shape[0]) > 0.2
    nv = v.shape[0] + 2
    topo = mesh_topology(f[torch.from_numpy(keep)], nv)
    base = torch.cat([v.to(torch.float64), torch.tensor([[0.1, 0.2, 0.3], [-1.0, 0.5, 2.0]],
                                                         dtype=torch.float64)])
    noise = torch.from_numpy(rng.normal(0.0, 0.08, (batch, nv, 3)))
    return (base[None] + noise).to(dtype), topo


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference relative to the reference's largest magnitude."""
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


# Relative tolerance of the losses (scalars and per-mesh sums): float64, where the
# regrouping is invisible, and float32, within float rounding (1e-6).
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-6}
# Of the per-element intermediates (Laplacian coordinates, per-edge cosines) and the
# gradients: in float32 each cosine of a near-degenerate edge is only good to ~2e-6 in
# either form (both measured against float64), so 1e-5 there.
ELEMENT_TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regularizers_match_the_former_formulas(template, seed, dtype):
    vertices, topo = random_mesh(template, seed, dtype)
    tol, element_tol = TOLERANCE[dtype], ELEMENT_TOLERANCE[dtype]
    assert rel(losses.laplacian_coordinates(vertices, topo),
               old_laplacian_coordinates(vertices, topo)) < element_tol
    assert rel(losses.flatten_cosines(vertices, topo),
               old_flatten_cosines(vertices, topo)) < element_tol
    assert rel(losses.laplacian_loss(vertices, topo),
               old_laplacian_coordinates(vertices, topo).pow(2).sum(dim=(1, 2))) < tol
    assert rel(losses.flatten_loss(vertices, topo),
               (old_flatten_cosines(vertices, topo) + 1.0).pow(2).sum(dim=1)) < tol
    new_v = vertices.clone().requires_grad_(True)
    old_v = vertices.clone().requires_grad_(True)
    total, parts = losses.regularizer_terms(new_v, topo, 0.3, 0.002)
    old_total, old_lap, old_fl = old_regularizer_total(old_v, topo, 0.3, 0.002)
    assert rel(total, old_total) < tol
    assert rel(parts["laplacian"], old_lap) < tol and rel(parts["flatten"], old_fl) < tol
    assert not parts["laplacian"].requires_grad and parts["laplacian"].shape == ()
    total.backward()
    old_total.backward()
    assert rel(new_v.grad, old_v.grad) < element_tol


def test_isolated_vertices_and_boundaries_are_covered(template):
    """The random meshes above do exercise the cases the formulas treat apart."""
    vertices, topo = random_mesh(template, 0, torch.float64)
    assert topo.degree[-2:].tolist() == [0.0, 0.0]  # isolated: Laplacian coordinate 0
    assert (losses.laplacian_coordinates(vertices, topo)[:, -2:] == 0).all()
    assert topo.flat_edges.shape[0] < topo.edges.shape[0]  # boundary edges left out


def test_regularizers_floats_are_the_terms(template):
    vertices, topo = random_mesh(template, 3, torch.float32)
    total, parts = losses.regularizers(vertices, topo, 0.3, 0.002, use_flatten=False)
    terms_total, terms = losses.regularizer_terms(vertices, topo, 0.3, 0.002,
                                                  use_flatten=False)
    assert float(total) == float(terms_total)
    assert parts["laplacian"] == float(terms["laplacian"]) and np.isnan(parts["flatten"])
    assert torch.isnan(terms["flatten"])


def test_topology_precomputes_the_sparse_adjacency(template):
    _, f = template
    topo = mesh_topology(f)
    dense = topo.adjacency.to_dense()
    assert torch.equal(dense, dense.t()) and dense.sum(1).tolist() == topo.degree.tolist()
    i, j = topo.edges.t()
    assert (dense[i, j] == 1).all() and dense.diagonal().sum() == 0
    assert torch.equal(topo.flat_columns, topo.flat_edges.t())
    moved = topo.to("cpu")
    assert isinstance(moved, MeshTopology) and torch.equal(moved.adjacency.to_dense(), dense)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", [0, 1])
def test_iou_losses_match_the_former_formulas(seed, dtype):
    gen = torch.Generator().manual_seed(seed)
    b, s = 6, 32
    sil = torch.rand(4 * b, s, s, generator=gen, dtype=dtype)
    sil[0] = 0.0  # an empty render: the eps case
    alpha_a = (torch.rand(b, s, s, generator=gen) > 0.6).to(dtype)
    alpha_b = (torch.rand(b, s, s, generator=gen) > 0.4).to(dtype)
    alpha_a[0] = 0.0
    tol = TOLERANCE[dtype]
    assert rel(losses.iou_loss(sil[:b], alpha_a), old_iou_loss(sil[:b], alpha_a)) < tol
    new_s, old_s = sil.clone().requires_grad_(True), sil.clone().requires_grad_(True)
    new = losses.multiview_iou_loss(new_s, alpha_a, alpha_b)
    old = old_multiview_iou_loss(old_s, alpha_a, alpha_b)
    assert rel(new, old) < tol
    new.backward()
    old.backward()
    assert rel(new_s.grad, old_s.grad) < ELEMENT_TOLERANCE[dtype]
