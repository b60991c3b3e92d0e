"""The training losses of the paper (Sec. 4.2): IoU (Eq. 3), Laplacian (Eq. 4),
flattening (Eq. 5), and the mesh topology they need, precomputed once per template.

All losses are plain differentiable torch.  Vertices are world-space ``[B, V, 3]``;
silhouettes ``[B, H, W]`` with values in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

#: Added to the IoU denominator (as the official code) so empty pairs give no NaN.
IOU_EPS = 1e-6
#: Added to vector norms in the flattening loss so degenerate faces give no NaN.
FLATTEN_EPS = 1e-6


def iou_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = IOU_EPS) -> torch.Tensor:
    """Eq. 3 averaged over the batch: ``1 - mean_b |S^ * S|_1 / (|S^ + S - S^ * S|_1 + eps)``.

    ``pred``, ``target``: ``[B, H, W]`` (or ``[B, ...]``) in ``[0, 1]``; returns a scalar.
    The union is summed as ``|S^|_1 + |S|_1 - |S^ * S|_1`` (the same sum, regrouped:
    three reductions and one product instead of five full-size operations; no
    cancellation, since the union is at least ``max(|S^|_1, |S|_1)``).
    """
    if pred.shape != target.shape:
        raise ValueError(f"iou_loss: pred {tuple(pred.shape)} and target "
                         f"{tuple(target.shape)} differ in shape")
    p = pred.reshape(pred.shape[0], -1)
    t = target.to(pred.dtype).reshape(p.shape)
    inter = torch.linalg.vecdot(p, t)
    union = p.sum(1) + t.sum(1) - inter + eps
    return 1.0 - (inter / union).mean()


def multiview_iou_loss(silhouettes: torch.Tensor, alpha_a: torch.Tensor,
                       alpha_b: torch.Tensor) -> torch.Tensor:
    """The cross-rendered two-view IoU loss of the official SoftRas recon code.

    ``silhouettes``: ``[4B, H, W]`` renders ordered ``[M_a@V_a, M_b@V_a, M_a@V_b,
    M_b@V_b]`` (meshes predicted from views a and b, each rendered at both views);
    ``alpha_a``, ``alpha_b``: ``[B, H, W]`` ground-truth alpha of views a and b.
    Returns the mean of the four IoU losses (scalar).
    """
    if silhouettes.shape[0] != 4 * alpha_a.shape[0] or alpha_a.shape != alpha_b.shape:
        raise ValueError(
            f"multiview_iou_loss: expected 4B silhouettes for B targets per view, got "
            f"{silhouettes.shape[0]} silhouettes and targets {tuple(alpha_a.shape)}, "
            f"{tuple(alpha_b.shape)}"
        )
    # The mean of four batch means of B IoUs each is the mean of all 4B: one call.
    return iou_loss(silhouettes, torch.cat([alpha_a, alpha_a, alpha_b, alpha_b]))


@dataclass(frozen=True)
class MeshTopology:
    """Adjacency of a fixed triangle mesh, computed once (:func:`mesh_topology`).

    ``edges``: int64 ``[E, 2]`` unique undirected edges ``(i < j)``; ``degree``: float
    ``[V]`` neighbours per vertex; ``flat_edges``: int64 ``[E2, 4]`` rows
    ``(v0, v1, v2, v3)``: an interior edge ``v0-v1`` shared by exactly two faces whose
    third vertices are ``v2`` and ``v3`` (boundary and non-manifold edges are left out).

    Derived once from those (the topology is fixed for a run, so the losses build no
    index per step): ``adjacency``, the symmetric ``[V, V]`` 0/1 adjacency matrix as a
    coalesced sparse COO tensor (float64; ``2E`` entries); ``flat_columns``: int64
    ``[4, E2]``, the columns of ``flat_edges`` each contiguous.
    """

    num_vertices: int
    edges: torch.Tensor
    degree: torch.Tensor
    flat_edges: torch.Tensor
    adjacency: torch.Tensor = field(init=False, repr=False, compare=False)
    flat_columns: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        i, j = self.edges[:, 0], self.edges[:, 1]
        adjacency = torch.sparse_coo_tensor(
            torch.stack([torch.cat([i, j]), torch.cat([j, i])]),
            torch.ones(2 * i.shape[0], dtype=torch.float64, device=self.edges.device),
            (self.num_vertices, self.num_vertices), check_invariants=True).coalesce()
        object.__setattr__(self, "adjacency", adjacency)
        object.__setattr__(self, "flat_columns", self.flat_edges.t().contiguous())

    def to(self, device) -> MeshTopology:
        """The same topology with its tensors on ``device``."""
        return MeshTopology(self.num_vertices, self.edges.to(device), self.degree.to(device),
                            self.flat_edges.to(device))


def mesh_topology(faces, num_vertices: int | None = None) -> MeshTopology:
    """Precompute the Laplacian and flattening adjacency of a triangle mesh.

    ``faces``: int ``[F, 3]`` vertex indices (numpy or torch); ``num_vertices``:
    ``V`` (default ``max index + 1``).  Raises ``ValueError`` on malformed faces.
    """
    f = faces.detach().cpu().numpy() if torch.is_tensor(faces) else np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0:
        raise ValueError(f"faces must be a non-empty [F, 3] array, got shape {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise TypeError(f"faces must be integers, got {f.dtype}")
    f = f.astype(np.int64)
    nv = int(f.max()) + 1 if num_vertices is None else int(num_vertices)
    if f.min() < 0 or f.max() >= nv:
        raise IndexError(f"face indices {f.min()}..{f.max()} out of range for {nv} vertices")
    if np.any((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])):
        raise ValueError("faces must not repeat a vertex")
    # Directed half-edges (a, b) with the opposite vertex c, for every face.
    a = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    b = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    c = np.concatenate([f[:, 2], f[:, 0], f[:, 1]])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * nv + hi
    order = np.argsort(key, kind="stable")
    key_s, lo_s, hi_s, c_s = key[order], lo[order], hi[order], c[order]
    uniq, start, count = np.unique(key_s, return_index=True, return_counts=True)
    edges = np.stack([lo_s[start], hi_s[start]], axis=1)
    degree = np.bincount(edges.reshape(-1), minlength=nv).astype(np.float64)
    two = start[count == 2]
    flat = np.stack([lo_s[two], hi_s[two], c_s[two], c_s[two + 1]], axis=1)
    return MeshTopology(
        num_vertices=nv,
        edges=torch.from_numpy(edges),
        degree=torch.from_numpy(degree),
        flat_edges=torch.from_numpy(flat.astype(np.int64)),
    )


def _vertex_major(vertices: torch.Tensor) -> torch.Tensor:
    """``[B, V, 3]`` -> ``[V, 3B]`` (a copy): row ``i`` holds vertex ``i`` of every mesh,
    so one sparse product or row gather serves the whole batch."""
    return vertices.permute(1, 2, 0).reshape(vertices.shape[1], -1)


def _laplacian_rows(vertices: torch.Tensor, topo: MeshTopology) -> torch.Tensor:
    """The Laplacian coordinates as ``[V, 3, B]``: ``v_i - (A v)_i / deg_i`` with the
    sparse adjacency ``A`` (one sparse product for the batch), 0 for isolated vertices."""
    _check_vertices(vertices, topo)
    x = _vertex_major(vertices)
    nsum = torch.sparse.mm(topo.adjacency.to(x.dtype), x)
    deg = topo.degree.to(x.dtype)[:, None]
    delta = torch.where(deg > 0, x - nsum / deg.clamp(min=1.0), torch.zeros_like(x))
    return delta.view(x.shape[0], 3, -1)


def laplacian_coordinates(vertices: torch.Tensor, topo: MeshTopology) -> torch.Tensor:
    """``delta_i = v_i - mean_{j in N(i)} v_j`` as ``[B, V, 3]`` (isolated vertices: 0)."""
    return _laplacian_rows(vertices, topo).permute(2, 0, 1)


def laplacian_loss(vertices: torch.Tensor, topo: MeshTopology) -> torch.Tensor:
    """Eq. 4 per mesh: ``sum_i ||delta_i||^2``, shape ``[B]``."""
    return _laplacian_rows(vertices, topo).pow(2).sum(dim=(0, 1))


def _flatten_cosines_eb(vertices: torch.Tensor, topo: MeshTopology,
                        eps: float = FLATTEN_EPS) -> torch.Tensor:
    """:func:`flatten_cosines` as ``[E2, B]``, computed on ``[3, E2, B]`` coordinate
    planes (gathered by four row selections of the ``[3, V, B]`` vertices), so that every
    dot product is a sum of three contiguous planes."""
    _check_vertices(vertices, topo)
    planes = vertices.permute(2, 1, 0)  # [3, V, B]
    v0, v1, v2, v3 = (planes.index_select(1, topo.flat_columns[k]) for k in range(4))
    e = v1 - v0
    e_len2 = (e * e).sum(0)

    def perpendicular(p):
        q = p - v0
        return q - e * ((q * e).sum(0) / (e_len2 + eps))

    p2, p3 = perpendicular(v2), perpendicular(v3)
    n2 = torch.sqrt((p2 * p2).sum(0) + eps * eps)
    n3 = torch.sqrt((p3 * p3).sum(0) + eps * eps)
    return (p2 * p3).sum(0) / (n2 * n3)


def flatten_cosines(vertices: torch.Tensor, topo: MeshTopology,
                    eps: float = FLATTEN_EPS) -> torch.Tensor:
    """``cos(theta_e)`` per interior edge, ``[B, E2]``: the cosine of the angle between
    the two faces' in-plane directions perpendicular to the shared edge, so ``-1``
    when the two faces are coplanar (unfolded) and ``+1`` when folded onto each other."""
    return _flatten_cosines_eb(vertices, topo, eps).t()


def flatten_loss(vertices: torch.Tensor, topo: MeshTopology,
                 eps: float = FLATTEN_EPS) -> torch.Tensor:
    """Eq. 5 per mesh: ``sum_e (cos(theta_e) + 1)^2``, shape ``[B]``."""
    return (_flatten_cosines_eb(vertices, topo, eps) + 1.0).pow(2).sum(dim=0)


def regularizer_terms(vertices: torch.Tensor, topo: MeshTopology, lambda_laplacian: float,
                      lambda_flatten: float, use_laplacian: bool = True,
                      use_flatten: bool = True
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``lambda * mean_b L_lap + mu * mean_b L_fl`` (scalar) and the unweighted batch
    means as detached 0-d tensors (``{"laplacian": ..., "flatten": ...}``, NaN when
    switched off), left on the device: the caller reads them when it needs them (one
    host transfer for all, :func:`.train.train_step`)."""
    total = vertices.new_zeros(())
    nan = vertices.new_full((), float("nan")).detach()
    parts = {"laplacian": nan, "flatten": nan}
    if use_laplacian:
        lap = laplacian_loss(vertices, topo).mean()
        total = total + lambda_laplacian * lap
        parts["laplacian"] = lap.detach()
    if use_flatten:
        fl = flatten_loss(vertices, topo).mean()
        total = total + lambda_flatten * fl
        parts["flatten"] = fl.detach()
    return total, parts


def regularizers(vertices: torch.Tensor, topo: MeshTopology, lambda_laplacian: float,
                 lambda_flatten: float, use_laplacian: bool = True,
                 use_flatten: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`regularizer_terms` with the unweighted batch means as floats
    (``{"laplacian": ..., "flatten": ...}``, NaN when switched off)."""
    total, parts = regularizer_terms(vertices, topo, lambda_laplacian, lambda_flatten,
                                     use_laplacian, use_flatten)
    return total, {k: float(v) for k, v in parts.items()}


def _check_vertices(vertices: torch.Tensor, topo: MeshTopology) -> None:
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape [B, V, 3], got {tuple(vertices.shape)}")
    if vertices.shape[1] != topo.num_vertices:
        raise ValueError(f"vertices have {vertices.shape[1]} points but the topology "
                         f"was built for {topo.num_vertices}")
