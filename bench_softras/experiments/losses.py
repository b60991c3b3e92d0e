"""The training losses of the paper (Sec. 4.2): IoU (Eq. 3), Laplacian (Eq. 4),
flattening (Eq. 5), and the mesh topology they need, precomputed once per template.

All losses are plain differentiable torch.  Vertices are world-space ``[B, V, 3]``;
silhouettes ``[B, H, W]`` with values in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Added to the IoU denominator (as the official code) so empty pairs give no NaN.
IOU_EPS = 1e-6
#: Added to vector norms in the flattening loss so degenerate faces give no NaN.
FLATTEN_EPS = 1e-6


def iou_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = IOU_EPS) -> torch.Tensor:
    """Eq. 3 averaged over the batch: ``1 - mean_b |S^ * S|_1 / (|S^ + S - S^ * S|_1 + eps)``.

    ``pred``, ``target``: ``[B, H, W]`` (or ``[B, ...]``) in ``[0, 1]``; returns a scalar.
    """
    if pred.shape != target.shape:
        raise ValueError(f"iou_loss: pred {tuple(pred.shape)} and target "
                         f"{tuple(target.shape)} differ in shape")
    dims = tuple(range(1, pred.dim()))
    target = target.to(pred.dtype)
    inter = (pred * target).sum(dims)
    union = (pred + target - pred * target).sum(dims) + eps
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
    raa, rba, rab, rbb = silhouettes.chunk(4, dim=0)
    return (iou_loss(raa, alpha_a) + iou_loss(rba, alpha_a)
            + iou_loss(rab, alpha_b) + iou_loss(rbb, alpha_b)) / 4.0


@dataclass(frozen=True)
class MeshTopology:
    """Adjacency of a fixed triangle mesh, computed once (:func:`mesh_topology`).

    ``edges``: int64 ``[E, 2]`` unique undirected edges ``(i < j)``; ``degree``: float
    ``[V]`` neighbours per vertex; ``flat_edges``: int64 ``[E2, 4]`` rows
    ``(v0, v1, v2, v3)``: an interior edge ``v0-v1`` shared by exactly two faces whose
    third vertices are ``v2`` and ``v3`` (boundary and non-manifold edges are left out).
    """

    num_vertices: int
    edges: torch.Tensor
    degree: torch.Tensor
    flat_edges: torch.Tensor

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


def laplacian_coordinates(vertices: torch.Tensor, topo: MeshTopology) -> torch.Tensor:
    """``delta_i = v_i - mean_{j in N(i)} v_j`` as ``[B, V, 3]`` (isolated vertices: 0)."""
    _check_vertices(vertices, topo)
    i, j = topo.edges[:, 0], topo.edges[:, 1]
    nsum = torch.zeros_like(vertices)
    nsum = nsum.index_add(1, i, vertices[:, j]).index_add(1, j, vertices[:, i])
    deg = topo.degree.to(vertices.dtype)
    mean = nsum / deg.clamp(min=1.0)[None, :, None]
    return torch.where(deg[None, :, None] > 0, vertices - mean, torch.zeros_like(vertices))


def laplacian_loss(vertices: torch.Tensor, topo: MeshTopology) -> torch.Tensor:
    """Eq. 4 per mesh: ``sum_i ||delta_i||^2``, shape ``[B]``."""
    return laplacian_coordinates(vertices, topo).pow(2).sum(dim=(1, 2))


def flatten_cosines(vertices: torch.Tensor, topo: MeshTopology,
                    eps: float = FLATTEN_EPS) -> torch.Tensor:
    """``cos(theta_e)`` per interior edge, ``[B, E2]``: the cosine of the angle between
    the two faces' in-plane directions perpendicular to the shared edge, so ``-1``
    when the two faces are coplanar (unfolded) and ``+1`` when folded onto each other."""
    _check_vertices(vertices, topo)
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


def flatten_loss(vertices: torch.Tensor, topo: MeshTopology,
                 eps: float = FLATTEN_EPS) -> torch.Tensor:
    """Eq. 5 per mesh: ``sum_e (cos(theta_e) + 1)^2``, shape ``[B]``."""
    return (flatten_cosines(vertices, topo, eps) + 1.0).pow(2).sum(dim=1)


def regularizers(vertices: torch.Tensor, topo: MeshTopology, lambda_laplacian: float,
                 lambda_flatten: float, use_laplacian: bool = True,
                 use_flatten: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
    """``lambda * mean_b L_lap + mu * mean_b L_fl`` (scalar) and the unweighted batch
    means as floats (``{"laplacian": ..., "flatten": ...}``, NaN when switched off)."""
    total = vertices.new_zeros(())
    parts = {"laplacian": float("nan"), "flatten": float("nan")}
    if use_laplacian:
        lap = laplacian_loss(vertices, topo).mean()
        total = total + lambda_laplacian * lap
        parts["laplacian"] = float(lap.detach())
    if use_flatten:
        fl = flatten_loss(vertices, topo).mean()
        total = total + lambda_flatten * fl
        parts["flatten"] = float(fl.detach())
    return total, parts


def _check_vertices(vertices: torch.Tensor, topo: MeshTopology) -> None:
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape [B, V, 3], got {tuple(vertices.shape)}")
    if vertices.shape[1] != topo.num_vertices:
        raise ValueError(f"vertices have {vertices.shape[1]} points but the topology "
                         f"was built for {topo.num_vertices}")
