"""nvdiffrast-style antialiasing of a hard silhouette: mesh analysis (torch), the
``torch.autograd.Function`` and the kernels' callers."""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .. import taichi_queue
from ..base import gather_faces
from ..edgegrad.kernels import gradient_buffers, gradient_result
from ..hard import rasterize_nearest_face
from ..taichi_runtime import kernel_device
from ..topology_cache import TopologyCache
from ..validation import check_face_vertices
from . import kernels


def row_ids(rows: torch.Tensor) -> torch.Tensor:
    """int64 ``[N]``: the index of each row of ``rows`` ``[N, C]`` among the distinct
    rows in lexicographic order, i.e. ``torch.unique(rows, dim=0,
    return_inverse=True)[1]`` (rows equal under ``==``, so ``-0.0`` and ``0.0`` match),
    by stable sorts column by column: ``torch.unique(dim=0)`` on the CPU compares the
    rows one pair at a time on one thread (0.4 s for the paper setting's 246k rows)."""
    order = torch.arange(rows.shape[0], device=rows.device)
    for c in reversed(range(rows.shape[1])):
        order = order[torch.sort(rows[order, c], stable=True).indices]
    srt = rows[order]
    new = torch.ones(rows.shape[0], dtype=torch.int64, device=rows.device)
    new[1:] = (srt[1:] != srt[:-1]).any(dim=1)
    ids = torch.empty_like(order)
    ids[order] = torch.cumsum(new, 0) - 1
    return ids


def _wing_partner(ids: torch.Tensor) -> torch.Tensor:
    """int64 ``[N * 3]``: per face edge entry ``e`` (face ``e // 3``, edge ``k = e % 3``
    joining vertices ``k + 1`` and ``k + 2``) the entry whose vertex is the wing across
    it, from vertex ids ``[N, 3]`` (equal id = same vertex): the other face's opposite
    entry for an edge of exactly two faces, else ``e`` itself (boundary edges, edges of
    three or more faces, faces with a repeated id).  :func:`wing_vertices`' rule."""
    a, b = ids[:, [1, 2, 0]], ids[:, [2, 0, 1]]  # edge k = (k+1, k+2)
    degenerate = ((ids[:, 0] == ids[:, 1]) | (ids[:, 1] == ids[:, 2])
                  | (ids[:, 2] == ids[:, 0]))[:, None].expand(-1, 3)
    n = int(ids.max()) + 1 if ids.numel() else 1
    key = torch.minimum(a, b) * n + torch.maximum(a, b)
    key = torch.where(degenerate, -1 - torch.arange(key.numel(), device=key.device)
                      .reshape(key.shape), key).reshape(-1)
    sorted_key, order = torch.sort(key, stable=True)
    _, counts = torch.unique_consecutive(sorted_key, return_counts=True)
    start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    size = torch.repeat_interleave(counts, counts)
    pos = torch.arange(key.numel(), device=key.device)
    partner_sorted = torch.where(size == 2, 2 * start + 1 - pos, pos)
    partner = torch.empty_like(order)
    partner[order] = order[partner_sorted]
    return partner


def wing_vertices(face_vertices: torch.Tensor) -> torch.Tensor:
    """Per face and edge the opposite vertex across it: ``[B, F, 3, 2]`` screen x, y.

    Edge ``k`` of a face joins its vertices ``k + 1`` and ``k + 2`` (mod 3), as in
    nvdiffrast.  Faces are matched by shared vertex positions (exact equality of x, y,
    z, per image).  An edge shared by exactly two faces gets the other face's opposite
    vertex; a boundary edge, an edge of three or more faces (nvdiffrast pairs two of
    them in a race-dependent way) or an edge of a face with repeated vertices gets the
    face's own vertex ``k``, which makes it a silhouette edge."""
    fv = face_vertices.detach()
    nb, nf = fv.shape[:2]
    rows = torch.cat([torch.arange(nb, device=fv.device, dtype=fv.dtype)
                      .repeat_interleave(nf * 3)[:, None], fv.reshape(-1, 3)], dim=1)
    partner = _wing_partner(row_ids(rows).reshape(nb * nf, 3))
    own = fv[..., :2].reshape(-1, 2)  # vertex (face e // 3, k = e % 3) is entry e
    return own[partner].reshape(nb, nf, 3, 2)


def wing_index(faces: torch.Tensor) -> torch.Tensor:
    """int64 ``[F * 3]``: per face edge entry (face ``e // 3``, edge ``e % 3``) the index
    of its wing vertex, from the topology ``faces`` ``[F, 3]`` alone (equal index = same
    vertex): :func:`wing_vertices`' rule with vertex indices for positions."""
    return faces.reshape(-1)[_wing_partner(faces)]


#: Weights of :func:`positions_distinct`'s sort key ``x + w_y y + w_z z`` (irrational,
#: so that distinct positions seldom share a key, even on a mirror-symmetric mesh whose
#: vertices share their x in pairs).
KEY_WEIGHTS = (0.7548776662466927, 0.5698402909980532)


def positions_distinct(screen_vertices: torch.Tensor) -> bool:
    """Whether no two vertices of any image of ``screen_vertices`` ``[B, V, 3]`` have
    equal x, y and z (under ``==``, so ``-0.0`` equals ``0.0``).

    First one key per vertex, ``x + w_y y + w_z z`` in float64 (:data:`KEY_WEIGHTS`;
    elementwise products and sums, so equal positions get equal keys), sorted per image
    by NumPy (a quarter of ``torch.sort``'s time on the CPU): no two equal keys means no
    two equal positions.  Only when keys tie (or a key is not finite) the exact test
    runs: a lexicographic order by three stable sorts per image,
    then neighbouring rows compared.  One host transfer of the vertices on a GPU."""
    v = screen_vertices.detach()
    if v.shape[1] < 2:
        return True
    a = v.to(torch.float64).cpu().numpy()  # float32 -> float64 is exact
    key = a[..., 0] + KEY_WEIGHTS[0] * a[..., 1] + KEY_WEIGHTS[1] * a[..., 2]
    key.sort(axis=1)
    if np.isfinite(key).all() and not (key[:, 1:] == key[:, :-1]).any():
        return True
    return _no_equal_rows(v)


def _no_equal_rows(v: torch.Tensor) -> bool:
    """The exact test of :func:`positions_distinct` for ``v`` ``[B, V, 3]`` (V >= 2)."""
    order = torch.sort(v[..., 2], dim=1, stable=True).indices
    for c in (1, 0):
        col = torch.gather(v[..., c], 1, order)
        order = torch.gather(order, 1, torch.sort(col, dim=1, stable=True).indices)
    srt = torch.gather(v, 1, order[..., None].expand(-1, -1, 3))
    return not bool((srt[:, 1:] == srt[:, :-1]).all(dim=2).any())


_WINGS = TopologyCache()


def mesh_wings(screen_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor | None:
    """:func:`wing_vertices` of ``gather_faces(screen_vertices, faces)`` bit for bit,
    ``[B, F, 3, 2]``, from the topology of ``faces`` ``[F, 3]`` (cached by content,
    :mod:`renderers.topology_cache`) instead of sorting every face vertex's position.
    ``None`` (use :func:`wing_vertices`) when two vertices of an image share a position:
    the position rule then joins faces the indices keep apart."""
    if not positions_distinct(screen_vertices):
        return None
    idx = _WINGS.get(faces, "wing_index", wing_index).to(screen_vertices.device)
    nb, nf = screen_vertices.shape[0], faces.shape[0]
    return screen_vertices.detach()[..., :2].index_select(1, idx).reshape(nb, nf, 3, 2)


def analyse(fv: torch.Tensor, wings: torch.Tensor | None, face_index: torch.Tensor,
            silhouette: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(out [B, H, W] in fv's dtype, alpha float64 [B, H, W, 2], edge int32 [B, H, W,
    2])`` of :func:`kernels.analyse` on the Taichi device: ``fv`` [B, F, 3, 3] (F >= 1),
    ``wings`` [B, F, 3, 2] or ``None`` (:func:`wing_vertices`), ``face_index`` int32 and
    ``silhouette`` [B, H, W] from :func:`rasterize_nearest_face`.  On the CPU the
    kernel's per-image tasks initialise the buffers and write ``out`` themselves (no
    torch fill, add or cast around it); elsewhere torch does."""
    dev = fv.device
    nb, height, width = face_index.shape
    queued = dev.type == "cpu"
    shape = (nb, height, width)
    wings = (wing_vertices(fv) if wings is None else wings.to(dev)).contiguous()
    if queued:
        adjust = torch.empty(shape, dtype=torch.float64, device=dev)
        alpha = torch.empty(*shape, 2, dtype=torch.float64, device=dev)
        edge = torch.empty(*shape, 2, dtype=torch.int32, device=dev)
        out = torch.empty(shape, dtype=fv.dtype, device=dev)
    else:
        adjust = torch.zeros(shape, dtype=torch.float64, device=dev)
        alpha = torch.zeros(*shape, 2, dtype=torch.float64, device=dev)
        edge = torch.full((*shape, 2), -1, dtype=torch.int32, device=dev)
        out = torch.empty(1, 1, 1, dtype=fv.dtype, device=dev)
    kernels.analyse(fv, wings, face_index, adjust, alpha, edge, out,
                    taichi_queue.counters(1, dev), taichi_queue.slots(), queued)
    if not queued:
        out = (silhouette.to(torch.float64) + adjust).to(fv.dtype)
    return out, alpha, edge


def gradient(fv: torch.Tensor, face_index: torch.Tensor, alpha: torch.Tensor,
             edge: torch.Tensor, grad_output: torch.Tensor, faces: torch.Tensor | None = None,
             num_vertices: int = 0) -> torch.Tensor:
    """The analytic gradient of :func:`kernels.gradient` in ``fv``'s dtype on the Taichi
    device: w.r.t. ``fv`` [B, F, 3, 3] (F >= 1; z column 0) or, with ``faces`` int64
    [F, 3] (CPU only), w.r.t. the vertices [B, V, 3] (``V = num_vertices``) ``fv`` was
    gathered from, bit for bit what ``gather_faces``' backward makes of the former.
    ``face_index``, ``alpha``, ``edge`` as saved by the forward, ``grad_output``
    [B, H, W] (any device, read in float64).  On the CPU the kernel's per-image tasks
    zero, accumulate (float64) and finish the rows
    (:func:`renderers.edgegrad.kernels.gradient_buffers`); elsewhere a zeroed float64
    buffer, then a cast."""
    buffers = gradient_buffers(fv, faces, num_vertices)
    g = grad_output.detach().to(fv.device).contiguous()
    kernels.gradient(fv, face_index, alpha, edge, g, *buffers)
    return gradient_result(buffers)


class AntialiasMeshRasterize(torch.autograd.Function):
    """``(screen_vertices [B, V, 3], faces int64 [F, 3] (F >= 1), H, W, wings) ->
    silhouettes [B, H, W]`` on the CPU: :class:`AntialiasRasterize` of
    ``gather_faces(screen_vertices, faces)`` (``wings`` as there), its backward's face
    gradient added into the vertices by the kernel's tasks (the same bits as the
    gather's backward, without its serial ``index_add_`` and transposes)."""

    @staticmethod
    def forward(ctx, screen_vertices: torch.Tensor, faces: torch.Tensor, height: int,
                width: int, wings: torch.Tensor | None = None) -> torch.Tensor:
        fv = gather_faces(screen_vertices.detach(), faces).contiguous()
        check_face_vertices(fv)
        sil, face_index = rasterize_nearest_face(fv, height, width, checked=True)
        out, alpha, edge = analyse(fv, wings, face_index, sil)
        ctx.save_for_backward(fv, face_index, alpha, edge, faces)
        ctx.num_vertices = screen_vertices.shape[1]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        fv, face_index, alpha, edge, faces = ctx.saved_tensors
        grad = gradient(fv, face_index, alpha, edge, grad_output, faces, ctx.num_vertices)
        return grad, None, None, None, None


class AntialiasRasterize(torch.autograd.Function):
    """``(face_vertices [B, F, 3, 3], H, W, wings=None) -> silhouettes [B, H, W]`` (input
    dtype; ``wings`` ``[B, F, 3, 2]``: :func:`wing_vertices` of the faces, computed here
    when ``None``):
    the hard silhouette plus nvdiffrast's blend at silhouette edges, with its analytic
    gradient w.r.t. the x, y of ``face_vertices`` (z gets zero)."""

    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, height: int, width: int,
                wings: torch.Tensor | None = None) -> torch.Tensor:
        out_device = face_vertices.device
        dev = kernel_device(out_device)
        fv = face_vertices.detach().to(dev).contiguous()
        sil, face_index = rasterize_nearest_face(fv, height, width)
        if fv.shape[1]:
            out, alpha, edge = analyse(fv, wings, face_index, sil)
        else:
            out = sil
            alpha = torch.zeros(*sil.shape, 2, dtype=torch.float64, device=dev)
            edge = torch.full(alpha.shape, -1, dtype=torch.int32, device=dev)
        ctx.save_for_backward(fv, face_index, alpha, edge)
        ctx.out = (out_device, face_vertices.dtype)
        return out.to(out_device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        fv, face_index, alpha, edge = ctx.saved_tensors
        out_device, dtype = ctx.out
        if fv.shape[1]:
            grad = gradient(fv, face_index, alpha, edge, grad_output)
        else:
            grad = torch.zeros(fv.shape, dtype=dtype, device=fv.device)
        return grad.to(out_device), None, None, None
