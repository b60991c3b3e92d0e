"""Vertex-colour images: the colour pass of the paper's "Color Reconstruction" (Sec. 4).

The paper supervises the geometry with SoftRas silhouettes and recovers per-vertex
colours with an l2 image loss: "unlike vertex position, the vertex color can naturally
receive gradients back propagated from the image loss".  This module is that colour
pass, one for every renderer of the suite:

* visibility: the z-buffer of :func:`renderers.hard.rasterize_nearest_face` picks the
  face nearest to the camera at each pixel centre (:mod:`renderers.grid`), so the
  covered pixels are exactly the ``hard`` silhouette;
* shading: the pixel shows the perspective-correct barycentric interpolation of that
  face's three vertex colours (no lighting: colours are emitted as given);
* gradients: w.r.t. the colours only.  Visibility and barycentric weights are treated as
  constants of the geometry (no gradient reaches the vertex positions here: geometry
  learns from the silhouettes of the renderer under test).

Screen space and camera are those of :mod:`renderers.camera`; colours have any number
of channels ``C`` (3 for RGB) in whatever units the caller uses (usually ``[0, 1]``).
"""

from __future__ import annotations

import torch

from .base import gather_faces
from .camera import Camera
from .grid import image_hw, pixel_centers
from .hard.function import rasterize_nearest_face
from .validation import (
    FLOAT_DTYPES,
    check_kernel_elements,
    check_real,
    check_storage,
    check_vertices_faces,
)


def _check_colors(colors: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    if not torch.is_tensor(colors):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(colors).__name__}")
    if colors.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{what} must be float32 or float64, got {colors.dtype}")
    check_storage(what, colors)
    if colors.dim() != len(expected) + 1 or tuple(colors.shape[:-1]) != expected or \
            colors.shape[-1] < 1:
        dims = ", ".join(str(d) for d in expected)
        raise ValueError(f"{what} must have shape [{dims}, C], got {tuple(colors.shape)}")
    with torch.no_grad():
        if not torch.isfinite(colors).all():
            raise ValueError(f"{what} contain NaN/Inf values")


def interpolate_face_colors(face_vertices: torch.Tensor, face_colors: torch.Tensor,
                            image_size: int | tuple[int, int], background: float = 0.0,
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour images of screen-space faces with per-corner colours.

    ``face_vertices``: float ``[B, F, 3, 3]`` screen space (x, y normalized, z = camera
    depth > 0, :meth:`renderers.Camera.project`); ``face_colors``: float ``[B, F, 3, C]``,
    the colour at each face corner; ``image_size``: int or ``(H, W)`` pixels;
    ``background``: the value of uncovered pixels.

    Returns ``(images [B, C, H, W]`` in ``face_colors``' dtype and device,
    ``covered bool [B, H, W])``.  A covered pixel holds the perspective-correct
    barycentric interpolation (weights ``w_k / z_k``, renormalized) of the colours of
    the nearest face at its centre.  Differentiable w.r.t. ``face_colors`` only.
    """
    h, w = image_hw(image_size)
    background = check_real("background", background, finite=False)  # NaN marks uncovered
    # Validates face_vertices before its Taichi kernel runs; the kernel never reads colours.
    _, index = rasterize_nearest_face(face_vertices, h, w)
    nb, nf = face_vertices.shape[:2]
    _check_colors(face_colors, (nb, nf, 3), "face_colors")
    dev, dtype = face_colors.device, face_colors.dtype
    nc = face_colors.shape[-1]
    index = index.to(device=dev, dtype=torch.int64)
    covered = index >= 0
    b, i, j = covered.nonzero(as_tuple=True)
    f = index[b, i, j]
    tri = face_vertices.detach().to(device=dev, dtype=torch.float64)[b, f]  # [P, 3, 3]
    xs, ys = pixel_centers(h, w, torch.float64, dev)
    px, py = xs[j], ys[i]
    x, y, z = tri[..., 0], tri[..., 1], tri[..., 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    # Weight of corner k = signed area of the sub-triangle opposite k over the face's;
    # the z-buffer only returns non-degenerate faces covering the pixel centre.
    w0 = ((x[:, 1] - px) * (y[:, 2] - py) - (x[:, 2] - px) * (y[:, 1] - py)) / area
    w1 = ((x[:, 2] - px) * (y[:, 0] - py) - (x[:, 0] - px) * (y[:, 2] - py)) / area
    bary = torch.stack([w0, w1, 1.0 - w0 - w1], dim=-1).clamp(min=0.0) / z
    bary = bary / bary.sum(dim=-1, keepdim=True)
    values = (bary.to(dtype)[..., None] * face_colors[b, f]).sum(dim=1)  # [P, C]
    check_kernel_elements("colour images [B, H, W, C]", (nb, h, w, nc))
    images = torch.full((nb, h, w, nc), float(background), dtype=dtype, device=dev)
    images = images.index_put((b, i, j), values)
    return images.permute(0, 3, 1, 2), covered


def render_vertex_colors(vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor,
                         camera: Camera, image_size: int | tuple[int, int],
                         background: float = 0.0) -> torch.Tensor:
    """Vertex-coloured images ``[B, C, H, W]`` of world-space meshes seen by ``camera``.

    ``vertices``: float ``[B, V, 3]`` world units (a single ``[V, 3]`` mesh is broadcast
    to the camera's views); ``faces``: int64 ``[F, 3]`` or ``[B, F, 3]``; ``colors``:
    float ``[B, V, C]`` or ``[V, C]`` (shared by every image); ``image_size``: pixels;
    ``background``: the value of uncovered pixels.  See :func:`interpolate_face_colors`
    (differentiable w.r.t. ``colors`` only).
    """
    if torch.is_tensor(vertices) and vertices.dim() == 2:
        vertices = vertices.unsqueeze(0)
    faces = check_vertices_faces(vertices, faces)
    screen = camera.project(vertices)
    nb, nv = screen.shape[0], vertices.shape[1]
    if torch.is_tensor(colors) and colors.dim() == 2:
        _check_colors(colors, (nv,), "colors")
        colors = colors.unsqueeze(0)
    if torch.is_tensor(colors) and colors.dim() == 3 and colors.shape[0] == 1:
        colors = colors.expand(nb, -1, -1)
    _check_colors(colors, (nb, nv), "colors")
    if faces.dim() == 3 and faces.shape[0] != nb:
        faces = faces.expand(nb, -1, -1)
    face_colors = gather_faces(colors, faces.to(colors.device))
    images, _ = interpolate_face_colors(gather_faces(screen, faces), face_colors, image_size,
                                        background)
    return images
