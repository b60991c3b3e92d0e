"""Rendering one object into benchmark views: the z-buffer face-id rasterizer, Lambert
shading and the stored RGBA convention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_softras.data import generate, mesh_to_views
from bench_softras.data.shading import (
    AMBIENT,
    DIFFUSE,
    LIGHT_RAISE,
    face_index_buffer,
    lambert_images,
)
from renderers.camera import Camera
from renderers.grid import pixel_grid


def inside_triangle(px, py, tri):
    """numpy reference: pixel centres inside a 2D triangle (edges inclusive)."""
    (x0, y0), (x1, y1), (x2, y2) = tri
    d0 = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
    d1 = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
    d2 = (x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)
    return ((d0 >= 0) & (d1 >= 0) & (d2 >= 0)) | ((d0 <= 0) & (d1 <= 0) & (d2 <= 0))


@pytest.mark.parametrize("flip", [False, True])
def test_face_buffer_single_triangle_matches_reference(flip):
    tri = np.array([[-0.7, -0.5], [0.6, -0.2], [0.1, 0.8]])
    if flip:
        tri = tri[::-1].copy()
    screen = torch.tensor(np.column_stack([tri, np.full(3, 2.0)]))[None]
    idx, depth = face_index_buffer(screen, torch.tensor([[0, 1, 2]]), (24, 32))
    g = pixel_grid(24, 32).numpy()
    ref = inside_triangle(g[..., 0], g[..., 1], tri)
    assert np.array_equal((idx[0] == 0).numpy(), ref) and ref.sum() > 50
    assert torch.allclose(depth[0][idx[0] == 0], torch.tensor(2.0, dtype=torch.float64))
    assert torch.isinf(depth[0][idx[0] < 0]).all()


def test_face_buffer_nearest_face_wins():
    quad = [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]
    far = [[x, y, 3.0] for x, y in quad]
    near = [[x + 0.25, y, 2.0] for x, y in quad]  # shifted right, nearer
    screen = torch.tensor([far + near], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    idx, depth = face_index_buffer(screen, faces, 32)
    g = pixel_grid(32, 32)
    in_near = ((g[..., 0] - 0.25).abs() < 0.5) & (g[..., 1].abs() < 0.5)
    only_far = (g[..., 0].abs() < 0.5) & (g[..., 1].abs() < 0.5) & ~in_near
    assert (idx[0][in_near] >= 2).all() and (depth[0][in_near] == 2.0).all()
    assert (idx[0][only_far] <= 1).all() and (idx[0][only_far] >= 0).all()


def test_face_buffer_coverage_equals_the_renderer_silhouette(renderer):
    """All 24 views of two objects: the z-buffer's covered pixels and the renderer's
    silhouette differ in at most 0.5% of the pixels (ties on shared edges)."""
    cam = Camera.benchmark()
    for cid in ("03001627", "02691156"):
        m = generate(cid, 4)
        v = torch.tensor(m.vertices)
        _, covered = lambert_images(v, torch.tensor(m.faces), cam, (1, 1, 1), 64)
        with torch.no_grad():
            sil = renderer.render(v.float()[None], torch.tensor(m.faces), cam) > 0.5
        assert covered.sum() > 1000
        assert (covered != sil).float().mean() <= 0.005


def test_lambert_intensity_of_a_square_facing_the_camera():
    """A square facing view 0's eye: n = eye direction e, so intensity is
    AMBIENT + DIFFUSE * e.l with l = normalize(e + LIGHT_RAISE * y); either winding."""
    cam = Camera.benchmark([0])
    e = cam.eye()[0] / cam.eye()[0].norm()
    # Build a square in the plane through the origin orthogonal to e.
    u = torch.nn.functional.normalize(torch.linalg.cross(torch.tensor([0.0, 1, 0],
                                                                      dtype=torch.float64), e),
                                      dim=0)
    w = torch.linalg.cross(e, u)
    verts = torch.stack([-0.2 * u - 0.2 * w, 0.2 * u - 0.2 * w, 0.2 * u + 0.2 * w,
                         -0.2 * u + 0.2 * w])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    light = torch.nn.functional.normalize(e + LIGHT_RAISE * torch.tensor([0.0, 1, 0],
                                                                          dtype=torch.float64),
                                          dim=0)
    expected = AMBIENT + DIFFUSE * float(e @ light)
    for f in (faces, faces.flip(1)):
        rgb, cov = lambert_images(verts, f, cam, (1.0, 0.5, 0.25), 32)
        assert cov.sum() > 50
        assert torch.allclose(rgb[0, 0][cov[0]], torch.tensor(expected, dtype=torch.float64))
        assert torch.allclose(rgb[0, 2][cov[0]], torch.tensor(expected * 0.25,
                                                              dtype=torch.float64))
        assert (rgb[0][:, ~cov[0]] == 0).all()


def test_mesh_to_views_layout(renderer):
    m = generate("02958343", 1)
    color = (0.8, 0.2, 0.1)
    views = mesh_to_views(m.vertices, m.faces, renderer, color)
    assert views.dtype == np.uint8 and views.shape == (24, 4, 64, 64)
    faces = torch.tensor(m.faces)
    for v in (0, 7, 23):  # view v is Camera.benchmark(v): azimuth -15 v
        with torch.no_grad():
            sil = renderer.render(torch.tensor(m.vertices, dtype=torch.float32)[None], faces,
                                  Camera.benchmark([v]))[0]
        assert np.array_equal(views[v, 3], np.round(sil.numpy() * 255).astype(np.uint8))
    alpha = views[:, 3]
    assert (views.transpose(1, 0, 2, 3)[:, alpha == 0] == 0).all()  # background: all 0
    # Stored RGB is inverted: displayed colour = 1 - rgb / 255 lies between the ambient
    # and the fully lit base colour.
    shown = 1.0 - views[:, :3].transpose(1, 0, 2, 3)[:, alpha == 255] / 255.0  # [3, P]
    c = np.array(color)[:, None]
    assert (shown >= AMBIENT * c - 1 / 255).all() and (shown <= c + 1 / 255).all()
    assert shown.std(axis=1).max() > 0.01  # shading varies over the object
