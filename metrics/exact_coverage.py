"""Exact-coverage silhouettes: the value of a pixel is the fraction of its square covered
by the projected triangles (float64 numpy).  The reference "true" silhouette against which
differentiable rasterizers are measured (:mod:`metrics.gradient_accuracy`).

Screen space and pixel grid as in :mod:`renderers.grid`: x right, y up, visible square
``[-1, 1]^2``; pixel ``(i, j)`` (row 0 at the top) is the square
``x in [-1 + 2j/W, -1 + 2(j+1)/W]``, ``y in [1 - 2(i+1)/H, 1 - 2i/H]``.

Three methods:

* :func:`clip_coverage` (analytic): every triangle is clipped against every pixel square
  of its bounding box (Sutherland-Hodgman, vectorized over triangle-pixel pairs) and the
  clipped areas are summed.  Exact (to rounding) for the union only when the triangles do
  not overlap; overlaps are counted twice (values are not clamped, so this shows).
* :func:`scanline_coverage` (union, any overlap): ``rows_per_pixel`` horizontal scanlines
  per pixel row (midpoint rule in y); along each scanline the union of the triangles'
  intervals is computed exactly in x.  The result is continuous and piecewise smooth in
  the vertex positions (a triangle's interval shrinks to zero length at its apex), so it
  can be differentiated by finite differences; the y quadrature error of a pixel value is
  at most (number of edges crossing the pixel) / (2 * rows_per_pixel) and in practice
  far smaller (checked against :func:`clip_coverage` in the tests).  Default 64 rows.
* :func:`front_coverage`: :func:`clip_coverage` of the front-facing triangles only
  (positive signed area in screen space, i.e. counter-clockwise on screen).  For a
  *convex* closed mesh wound outward these tile its silhouette without overlap, so this
  is the exact union coverage.

:func:`center_coverage` is the hard rasterizer's silhouette (pixel centre inside any
triangle, edges inclusive) for comparison.
"""

from __future__ import annotations

import numpy as np

from renderers.grid import pixel_centers, pixel_edges

DEFAULT_ROWS_PER_PIXEL = 64
#: Most vertices of a triangle clipped by an axis-aligned square (3 + 4).
_MAX_POLY = 7


def _check_tris(tri_xy) -> np.ndarray:
    t = np.asarray(tri_xy.detach().cpu().numpy() if hasattr(tri_xy, "detach") else tri_xy,
                   dtype=np.float64)
    if t.ndim != 3 or t.shape[1] != 3 or t.shape[2] not in (2, 3):
        raise ValueError(f"triangles must have shape [F, 3, 2] (or [F, 3, 3]), got {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("triangle coordinates contain NaN/Inf values")
    return t[..., :2]


def _hw(image_size) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)):
        h = w = int(image_size)
    else:
        h, w = (int(s) for s in image_size)
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {image_size}")
    return h, w


def signed_area(tri_xy) -> np.ndarray:
    """Signed areas ``[F]`` of screen triangles ``[F, 3, 2]`` (> 0: counter-clockwise with
    x right, y up), in squared normalized screen units."""
    t = _check_tris(tri_xy)
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
                  - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))


def _compact(pts: np.ndarray, keep: np.ndarray):
    """Move the kept vertices of each row to the front (order preserved)."""
    order = np.argsort(~keep, axis=1, kind="stable")
    return (np.take_along_axis(pts, order[..., None], axis=1),
            np.take_along_axis(keep, order, axis=1))


def _clip(poly: np.ndarray, axis: int, bound: np.ndarray, keep_below: bool) -> np.ndarray:
    """Clip padded polygons ``[N, M, 2]`` to ``coord[axis] <= bound`` (or ``>=``).

    Padding: a polygon with fewer than M vertices repeats its last vertex (zero-length
    edges add nothing); an empty polygon is all NaN.
    """
    a = poly
    b = np.roll(poly, -1, axis=1)
    s = (bound[:, None] - a[..., axis]) if keep_below else (a[..., axis] - bound[:, None])
    e = (bound[:, None] - b[..., axis]) if keep_below else (b[..., axis] - bound[:, None])
    a_in, b_in = s >= 0, e >= 0
    cross = a_in != b_in
    denom = np.where(cross, s - e, 1.0)
    t = np.where(cross, s / denom, 0.0)
    inter = a + t[..., None] * (b - a)
    # Per edge emit [a if a inside] then [intersection if the edge crosses].
    pts = np.stack([a, inter], axis=2).reshape(a.shape[0], -1, 2)
    keep = np.stack([a_in, cross], axis=2).reshape(a.shape[0], -1)
    pts, keep = _compact(pts, keep)
    # Drop repeated vertices (a vertex on the boundary is emitted twice), so that a
    # polygon never has more than _MAX_POLY distinct vertices.
    prev = np.roll(pts, 1, axis=1)
    last = np.take_along_axis(pts, np.maximum(keep.sum(axis=1) - 1, 0)[:, None, None], axis=1)
    prev[:, 0] = last[:, 0]
    keep &= ~(pts == prev).all(axis=-1) | (keep.sum(axis=1, keepdims=True) == 1)
    pts, keep = _compact(pts, keep)
    count = keep.sum(axis=1)
    m = min(pts.shape[1], _MAX_POLY)
    pts = pts[:, :m]
    # Pad each polygon by repeating its last valid vertex.
    idx = np.minimum(np.arange(m)[None, :], np.maximum(count, 1)[:, None] - 1)
    pts = np.take_along_axis(pts, idx[..., None], axis=1)
    pts[count == 0] = np.nan
    return pts


def _pairs(t: np.ndarray, h: int, w: int):
    """Triangle-pixel pairs over each triangle's bounding box (clamped to the image)."""
    lo, hi = t.min(axis=1), t.max(axis=1)
    j0 = np.clip(np.floor((lo[:, 0] + 1) * w / 2).astype(np.int64), 0, w)
    j1 = np.clip(np.floor((hi[:, 0] + 1) * w / 2).astype(np.int64) + 1, 0, w)
    i0 = np.clip(np.floor((1 - hi[:, 1]) * h / 2).astype(np.int64), 0, h)
    i1 = np.clip(np.floor((1 - lo[:, 1]) * h / 2).astype(np.int64) + 1, 0, h)
    nj, ni = np.maximum(j1 - j0, 0), np.maximum(i1 - i0, 0)
    n = nj * ni
    face = np.repeat(np.arange(len(t)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    nj_f = np.repeat(nj, n)
    ii = np.repeat(i0, n) + k // np.maximum(nj_f, 1)
    jj = np.repeat(j0, n) + k % np.maximum(nj_f, 1)
    return face, ii, jj


def clip_coverage(tri_xy, image_size, per_face: bool = False) -> np.ndarray:
    """Analytic coverage: the sum over triangles of the area fraction of each pixel they
    cover (module docstring; exact union only without overlaps).

    ``tri_xy``: ``[F, 3, 2]`` screen-space triangles (``[F, 3, 3]`` accepted, z ignored),
    numpy or torch; ``image_size``: int or ``(H, W)``.  Returns float64 ``[H, W]``, or
    ``[F, H, W]`` per triangle with ``per_face=True``.
    """
    t = _check_tris(tri_xy)
    h, w = _hw(image_size)
    out = np.zeros((len(t), h, w) if per_face else (h, w))
    if len(t) == 0:
        return out
    face, ii, jj = _pairs(t, h, w)
    if len(face) == 0:
        return out
    poly = t[face]
    xe, ye = (e.numpy() for e in pixel_edges(h, w))
    x0, x1 = xe[jj], xe[jj + 1]
    y0, y1 = ye[ii + 1], ye[ii]
    poly = _clip(poly, 0, x0, keep_below=False)
    poly = _clip(poly, 0, x1, keep_below=True)
    poly = _clip(poly, 1, y0, keep_below=False)
    poly = _clip(poly, 1, y1, keep_below=True)
    x, y = poly[..., 0], poly[..., 1]
    area = 0.5 * np.abs(np.nansum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    frac = area / ((2 / w) * (2 / h))
    if per_face:
        np.add.at(out, (face, ii, jj), frac)
    else:
        np.add.at(out, (ii, jj), frac)
    return out


def front_coverage(tri_xy, image_size) -> np.ndarray:
    """:func:`clip_coverage` of the counter-clockwise (front-facing) triangles: the exact
    silhouette coverage of a convex closed mesh wound outward.  Float64 ``[H, W]``."""
    t = _check_tris(tri_xy)
    return clip_coverage(t[signed_area(t) > 0], image_size)


def scanline_positions(height: int, rows_per_pixel: int = DEFAULT_ROWS_PER_PIXEL) -> np.ndarray:
    """Screen y of the scanlines, float64 ``[H * rows_per_pixel]``, top to bottom; the
    ``n``-th group of ``rows_per_pixel`` belongs to pixel row ``n`` (midpoint rule)."""
    k = np.arange(height * rows_per_pixel)
    return 1 - 2 * (k + 0.5) / (height * rows_per_pixel)


def scanline_intervals(t: np.ndarray, ys: np.ndarray):
    """The x-intervals where scanlines ``ys [S]`` cross triangles ``t [F, 3, 2]``:
    ``(start [S, F], end [S, F])``, NaN where a scanline misses a triangle."""
    a = t[None, :, :, :]
    b = np.roll(t, -1, axis=1)[None]
    y = ys[:, None, None]
    ya, yb = a[..., 1], b[..., 1]
    lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
    hit = (y >= lo) & (y <= hi) & (hi > lo)
    tt = np.where(hit, (y - ya) / np.where(hi > lo, yb - ya, 1.0), np.nan)
    xs = a[..., 0] + tt * (b[..., 0] - a[..., 0])
    with np.errstate(all="ignore"):
        start = np.nanmin(np.where(hit, xs, np.inf), axis=-1)
        end = np.nanmax(np.where(hit, xs, -np.inf), axis=-1)
    miss = ~hit.any(axis=-1)
    start[miss] = np.nan
    end[miss] = np.nan
    return start, end


def _union_cover(start: np.ndarray, end: np.ndarray, width: int) -> np.ndarray:
    """Covered fraction of each pixel column ``[S, W]`` by the union of intervals."""
    s_count = start.shape[0]
    a = np.where(np.isnan(start), np.inf, np.clip(start, -1, 1))
    b = np.where(np.isnan(end), -np.inf, np.clip(end, -1, 1))
    order = np.argsort(a, axis=1, kind="stable")
    a = np.take_along_axis(a, order, axis=1)
    b = np.take_along_axis(b, order, axis=1)
    run = np.maximum.accumulate(b, axis=1)
    prev = np.concatenate([np.full((s_count, 1), -np.inf), run[:, :-1]], axis=1)
    lo = np.maximum(a, prev)
    length = np.where(np.isfinite(lo) & (run > lo), run - lo, 0.0)
    lo = np.where(np.isfinite(lo), lo, 1.0)
    # Disjoint pieces sorted by lo within each row: offset rows to search all at once.
    offset = 4.0 * np.arange(s_count)[:, None]
    flat_lo = (lo + offset).ravel()
    cum = np.cumsum(length, axis=1)
    cum_before = (cum - length).ravel()
    bounds = pixel_edges(1, width)[0].numpy()
    q = (bounds[None, :] + offset).ravel()
    idx = np.searchsorted(flat_lo, q, side="right") - 1
    row = np.repeat(np.arange(s_count), width + 1)
    k = np.clip(idx, 0, None)
    valid = (idx >= 0) & (k // lo.shape[1] == row)
    xq = np.repeat(bounds[None, :], s_count, axis=0).ravel()
    lo_k, len_k = lo.ravel()[k], length.ravel()[k]
    covered = np.where(valid, cum_before[k] + np.clip(xq - lo_k, 0.0, len_k), 0.0)
    covered = covered.reshape(s_count, width + 1)
    return np.diff(covered, axis=1) / (2 / width)


def scanline_rows(tri_xy, width: int, ys: np.ndarray) -> np.ndarray:
    """Union coverage of each pixel column along each scanline ``ys [S]``: float64
    ``[S, W]`` (covered length / pixel width)."""
    t = _check_tris(tri_xy)
    if len(t) == 0 or len(ys) == 0:
        return np.zeros((len(ys), width))
    start, end = scanline_intervals(t, np.asarray(ys, dtype=np.float64))
    return _union_cover(start, end, width)


def scanline_coverage(tri_xy, image_size,
                      rows_per_pixel: int = DEFAULT_ROWS_PER_PIXEL) -> np.ndarray:
    """Union coverage with ``rows_per_pixel`` scanlines per pixel row, exact in x (module
    docstring).  ``tri_xy`` ``[F, 3, 2]`` screen space; returns float64 ``[H, W]``."""
    h, w = _hw(image_size)
    if int(rows_per_pixel) < 1:
        raise ValueError(f"rows_per_pixel must be >= 1, got {rows_per_pixel}")
    n = int(rows_per_pixel)
    rows = scanline_rows(tri_xy, w, scanline_positions(h, n))
    return rows.reshape(h, n, w).mean(axis=1)


def center_coverage(tri_xy, image_size) -> np.ndarray:
    """Hard silhouette: 1.0 where the pixel centre is inside some triangle (edges
    inclusive, either winding, degenerate triangles empty), else 0.0; float64 ``[H, W]``."""
    t = _check_tris(tri_xy)
    h, w = _hw(image_size)
    xs, ys = (c.numpy() for c in pixel_centers(h, w))
    px, py = np.meshgrid(xs, ys, indexing="xy")
    out = np.zeros((h, w), dtype=bool)
    for tri in t:
        a, b, c = tri
        area2 = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
        if area2 == 0:
            continue
        e = [(q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0])
             for p, q in ((a, b), (b, c), (c, a))]
        inside = ((e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0)) | (
            (e[0] <= 0) & (e[1] <= 0) & (e[2] <= 0))
        out |= inside
    return out.astype(np.float64)


METHODS = {"clip": clip_coverage, "front": front_coverage, "scanline": scanline_coverage}


def exact_coverage(tri_xy, image_size, method: str = "scanline", **kwargs) -> np.ndarray:
    """Coverage image float64 ``[H, W]`` of screen triangles ``[F, 3, 2]`` by ``method``:
    ``"clip"`` (non-overlapping triangles), ``"front"`` (convex closed meshes) or
    ``"scanline"`` (any triangles; ``rows_per_pixel``)."""
    try:
        fn = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown coverage method {method!r}; use one of {sorted(METHODS)}") \
            from None
    return fn(tri_xy, image_size, **kwargs)
