"""Shaded RGB for the data set's renderings: a depth-tested (z-buffer) rasterizer of
face ids at pixel centres plus per-face Lambertian shading.

The renderers of this project produce silhouettes only; the data set's colour channels
come from here (its alpha channel comes from the renderer passed to the builder).
Pixel centres are those of :mod:`renderers.grid` and screen space that of
:meth:`renderers.Camera.project`, so a face covers exactly the pixel centres a hard
rasterizer would fill.  Plain torch, no gradients needed.
"""

from __future__ import annotations

import torch

from renderers.camera import Camera
from renderers.grid import column_of, image_hw, pixel_centers, row_of

#: Shading constants: intensity = AMBIENT + DIFFUSE * max(0, n . l).
AMBIENT = 0.4
DIFFUSE = 0.6
#: The light: a headlight raised above the camera; world direction = normalize(eye/|eye|
#: + LIGHT_RAISE * (0, 1, 0)).
LIGHT_RAISE = 0.6


def face_index_buffer(screen: torch.Tensor, faces: torch.Tensor,
                      image_size: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest face at every pixel centre.

    ``screen``: float ``[B, V, 3]`` screen-space vertices (x, y normalized, z = camera
    depth) from :meth:`renderers.Camera.project`; ``faces``: int64 ``[F, 3]``.
    Returns ``(face_index int64 [B, H, W], depth [B, H, W])``: the index of the visible
    face (-1 where no face covers the pixel centre; ties go to the lowest index) and its
    perspective-correct camera depth (``inf`` where empty).  Faces with a vertex at depth
    <= 1e-6 and degenerate faces are skipped.  Only the pixels inside each face's
    bounding box are tested, so the cost is the faces' total screen area.
    """
    h, w = image_hw(image_size)
    nb = screen.shape[0]
    nf = faces.shape[0]
    screen = screen.detach().to(torch.float64)
    empty_idx = torch.full((nb, h, w), -1, dtype=torch.int64, device=screen.device)
    empty_depth = torch.full((nb, h, w), float("inf"), dtype=torch.float64,
                             device=screen.device)
    if nf == 0:
        return empty_idx, empty_depth
    fv = screen[:, faces]  # [B, F, 3, 3]
    x, y, z = fv[..., 0], fv[..., 1], fv[..., 2]
    cols, rows = column_of(x, w), row_of(y, h)
    c0 = torch.ceil(cols.min(-1).values).clamp(min=0)
    c1 = torch.floor(cols.max(-1).values).clamp(max=w - 1)
    r0 = torch.ceil(rows.min(-1).values).clamp(min=0)
    r1 = torch.floor(rows.max(-1).values).clamp(max=h - 1)
    area = (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - \
        (x[..., 2] - x[..., 0]) * (y[..., 1] - y[..., 0])
    ok = (z.min(-1).values > 1e-6) & (area.abs() > 1e-14)
    ncol = (c1 - c0 + 1).clamp(min=0).to(torch.int64)
    nrow = (r1 - r0 + 1).clamp(min=0).to(torch.int64)
    count = torch.where(ok, ncol * nrow, 0).reshape(-1)  # [B*F]
    total = int(count.sum())
    if total == 0:
        return empty_idx, empty_depth
    pair_face = torch.repeat_interleave(torch.arange(nb * nf, device=screen.device), count)
    start = torch.cumsum(count, 0) - count
    k = torch.arange(total, device=screen.device) - start[pair_face]
    nc = ncol.reshape(-1)[pair_face]
    r = r0.reshape(-1)[pair_face].to(torch.int64) + k // nc
    c = c0.reshape(-1)[pair_face].to(torch.int64) + k % nc
    xs, ys = pixel_centers(h, w, torch.float64, screen.device)
    px, py = xs[c], ys[r]
    tri = fv.reshape(nb * nf, 3, 3)[pair_face]  # [P, 3, 3]
    tx, ty, tz = tri[..., 0], tri[..., 1], tri[..., 2]
    a = area.reshape(-1)[pair_face]
    # Barycentric weight of vertex i = signed area of the sub-triangle opposite i / area.
    w0 = ((tx[:, 1] - px) * (ty[:, 2] - py) - (tx[:, 2] - px) * (ty[:, 1] - py)) / a
    w1 = ((tx[:, 2] - px) * (ty[:, 0] - py) - (tx[:, 0] - px) * (ty[:, 2] - py)) / a
    w2 = 1.0 - w0 - w1
    inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
    inv_z = w0 / tz[:, 0] + w1 / tz[:, 1] + w2 / tz[:, 2]
    depth = 1.0 / inv_z
    b = pair_face // nf
    pix = (b * h + r) * w + c
    pix, depth, face = pix[inside], depth[inside], (pair_face % nf)[inside]
    zbuf = torch.full((nb * h * w,), float("inf"), dtype=torch.float64, device=screen.device)
    zbuf = zbuf.scatter_reduce(0, pix, depth, reduce="amin")
    win = depth <= zbuf[pix]
    fbuf = torch.full((nb * h * w,), nf, dtype=torch.int64, device=screen.device)
    fbuf = fbuf.scatter_reduce(0, pix[win], face[win], reduce="amin")
    fbuf = torch.where(fbuf == nf, -1, fbuf)
    return fbuf.reshape(nb, h, w), zbuf.reshape(nb, h, w)


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit face normals ``[F, 3]`` (right-hand rule on the face's vertex order) of world
    vertices ``[V, 3]`` and int64 faces ``[F, 3]``; zero for degenerate faces."""
    v = vertices[faces]
    n = torch.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1)
    return torch.nn.functional.normalize(n, dim=-1)


def lambert_images(vertices: torch.Tensor, faces: torch.Tensor, camera: Camera,
                   color: tuple[float, float, float], image_size: int | tuple[int, int],
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lambert-shaded colour images of one mesh seen by every view of ``camera``.

    ``vertices``: world float ``[V, 3]``; ``faces``: int64 ``[F, 3]``; ``color``: base RGB
    in [0, 1].  Each pixel shows its nearest face (:func:`face_index_buffer`) with
    intensity ``AMBIENT + DIFFUSE * max(0, n . l)``, ``n`` the face normal turned towards
    the camera (so the face winding does not matter) and ``l`` the raised headlight.
    Returns ``(rgb float64 [B, 3, H, W] in [0, 1], covered bool [B, H, W])``; uncovered
    pixels are 0.
    """
    vertices = torch.as_tensor(vertices, dtype=torch.float64).detach()
    faces = torch.as_tensor(faces, dtype=torch.int64)
    screen = camera.project(vertices.unsqueeze(0))
    nb = screen.shape[0]
    idx, _ = face_index_buffer(screen, faces, image_size)
    eye = camera.eye(torch.float64, vertices.device).expand(nb, 3)
    normals = face_normals(vertices, faces)  # [F, 3]
    centroid = vertices[faces].mean(dim=1)  # [F, 3]
    facing = torch.einsum("fk,bfk->bf", normals, eye[:, None, :] - centroid[None])
    n = normals[None] * torch.where(facing < 0, -1.0, 1.0)[..., None]  # [B, F, 3]
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64, device=vertices.device)
    light = torch.nn.functional.normalize(
        torch.nn.functional.normalize(eye, dim=-1) + LIGHT_RAISE * up, dim=-1)
    intensity = AMBIENT + DIFFUSE * torch.einsum("bfk,bk->bf", n, light).clamp(min=0)
    covered = idx >= 0
    shade = torch.gather(intensity, 1, idx.clamp(min=0).reshape(nb, -1)).reshape(idx.shape)
    shade = torch.where(covered, shade, 0.0)
    col = torch.as_tensor(color, dtype=torch.float64, device=vertices.device)
    rgb = shade[:, None] * col[None, :, None, None]
    return rgb, covered
