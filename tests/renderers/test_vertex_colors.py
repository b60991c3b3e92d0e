"""The colour pass (``renderers.vertex_colors``): visibility, perspective-correct
interpolation checked by re-projecting the interpolated surface point, gradients that
reach the colours only, and clear errors for bad colours."""

import pytest
import torch
from random_meshes import random_faces

import renderers
from metrics.meshes import box_mesh
from renderers import Camera, interpolate_face_colors, render_vertex_colors
from renderers.hard import rasterize_coverage, rasterize_nearest_face


def test_constant_face_colours_show_the_nearest_face():
    fv = random_faces(2, 12, seed=3)
    per_face = torch.rand(2, 12, 3, generator=torch.Generator().manual_seed(1),
                          dtype=torch.float64)
    face_colors = per_face[:, :, None, :].expand(-1, -1, 3, -1).contiguous()
    images, covered = interpolate_face_colors(fv, face_colors, 24, background=-1.0)
    assert images.shape == (2, 3, 24, 24)
    assert torch.equal(covered.double(), rasterize_coverage(fv, 24, 24))
    _, index = rasterize_nearest_face(fv, 24, 24)
    b, i, j = covered.nonzero(as_tuple=True)
    expect = per_face[b, index[b, i, j].long()]  # [P, 3]
    torch.testing.assert_close(images.permute(0, 2, 3, 1)[b, i, j], expect, rtol=0, atol=1e-12)
    assert (images.permute(0, 2, 3, 1)[~covered] == -1.0).all()


def test_nearer_square_hides_the_farther_one():
    # Two squares covering every pixel centre: red at depth 2, green at depth 1.5 (drawn
    # first).
    sq = torch.tensor([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=torch.float64)
    tris = [[0, 1, 2], [0, 2, 3]]
    faces = []
    for depth in (1.5, 2.0):
        for t in tris:
            faces.append(torch.cat([sq[t], torch.full((3, 1), depth, dtype=torch.float64)], 1))
    fv = torch.stack(faces)[None]  # [1, 4, 3, 3]
    col = torch.tensor([[0.0, 1, 0]] * 2 + [[1.0, 0, 0]] * 2, dtype=torch.float64)
    images, covered = interpolate_face_colors(fv, col[None, :, None, :].expand(1, 4, 3, 3),
                                              16)
    assert covered.all()
    green = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)[:, None, None]
    torch.testing.assert_close(images[0], green.expand(3, 16, 16), rtol=0, atol=1e-12)


def _tilted_box():
    v, f = box_mesh([-0.45, -0.3, -0.05], [0.45, 0.3, 0.05])
    v = torch.as_tensor(v, dtype=torch.float64)
    ang = torch.tensor(1.0, dtype=torch.float64)  # strong tilt: large depth range per face
    rot = torch.tensor([[1, 0, 0], [0, torch.cos(ang), -torch.sin(ang)],
                        [0, torch.sin(ang), torch.cos(ang)]], dtype=torch.float64)
    return v @ rot.T, torch.as_tensor(f, dtype=torch.int64)


def test_interpolated_world_point_projects_to_the_pixel_centre():
    """Colours = world positions: perspective-correct interpolation returns the surface
    point seen through each pixel centre, so projecting it gives that centre back."""
    v, f = _tilted_box()
    cam = Camera(distance=1.2, elevation=20.0, azimuth=35.0)
    size = 40
    images = render_vertex_colors(v, f, v, cam, size, background=float("nan"))[0]  # [3, H, W]
    covered = ~torch.isnan(images[0])
    assert covered.sum() > 300
    points = images.permute(1, 2, 0)[covered]  # [P, 3] world
    screen = cam.project(points[None])[0]
    xs, ys = renderers.grid.pixel_centers(size, size)
    ii, jj = covered.nonzero(as_tuple=True)
    torch.testing.assert_close(screen[:, 0], xs[jj], rtol=0, atol=1e-9)
    torch.testing.assert_close(screen[:, 1], ys[ii], rtol=0, atol=1e-9)


def test_screen_space_interpolation_would_fail_the_reprojection_test():
    """The reprojection test above can fail: interpolating world positions with
    plain screen-space weights misses the pixel centres on this geometry."""
    v, f = _tilted_box()
    cam = Camera(distance=1.2, elevation=20.0, azimuth=35.0)
    fv = renderers.gather_faces(cam.project(v[None]), f)
    flat = fv.clone()
    flat[..., 2] = 1.0  # equal depths: perspective correction switched off
    images, covered = interpolate_face_colors(flat, renderers.gather_faces(v[None], f), 40)
    screen = cam.project(images.permute(0, 2, 3, 1)[covered][None])[0]
    xs, ys = renderers.grid.pixel_centers(40, 40)
    _, ii, jj = covered.nonzero(as_tuple=True)
    assert (screen[:, 0] - xs[jj]).abs().max() > 1e-3


def test_gradient_reaches_the_colours_only():
    v, f = _tilted_box()
    cam = Camera.benchmark([0, 5])
    verts = v.clone().requires_grad_(True)
    colors = torch.rand(v.shape[0], 3, dtype=torch.float64, requires_grad=True)
    out = render_vertex_colors(verts, f, colors, cam, 16)
    assert out.shape == (2, 3, 16, 16)
    gv, gc = torch.autograd.grad((out ** 2).sum(), (verts, colors), allow_unused=True)
    assert gv is None and torch.isfinite(gc).all() and gc.abs().sum() > 0
    assert torch.autograd.gradcheck(
        lambda c: render_vertex_colors(v, f, c, cam, 12), (colors,))


def test_batched_colours_and_single_channel():
    v, f = _tilted_box()
    cam = Camera.benchmark([0, 1, 2])
    col = torch.stack([torch.full((v.shape[0], 1), float(k)) for k in range(3)])
    out = render_vertex_colors(v.float(), f, col, cam, 16)
    assert out.shape == (3, 1, 16, 16) and out.dtype == torch.float32
    for k in range(3):
        vals = out[k, 0][out[k, 0] != 0]
        assert k == 0 or (vals.numel() > 0 and ((vals - k).abs() < 1e-5).all())


@pytest.mark.parametrize("colors, err, match", [
    (torch.rand(7, 3), ValueError, "colors must have shape"),
    (torch.rand(2, 8, 3), ValueError, "colors must have shape"),
    (torch.full((8, 3), float("nan")), ValueError, "NaN/Inf"),
    (torch.ones(8, 3, dtype=torch.int64), TypeError, "float32 or float64"),
    ([[0.0, 0.0, 0.0]] * 8, TypeError, "torch.Tensor"),
])
def test_bad_colours_raise_clear_errors(colors, err, match):
    v, f = box_mesh([-0.2] * 3, [0.2] * 3)
    v = torch.as_tensor(v, dtype=torch.float32)
    with pytest.raises(err, match=match):
        render_vertex_colors(v, torch.as_tensor(f), colors, Camera.benchmark([0, 1, 2]), 8)


def test_geometry_behind_the_camera_is_refused_before_the_kernel():
    v, f = box_mesh([-0.2] * 3, [0.2] * 3)
    v = torch.as_tensor(v, dtype=torch.float64) * 20  # swallows the eye
    with pytest.raises(ValueError, match="behind the camera"):
        render_vertex_colors(v, torch.as_tensor(f), torch.zeros(8, 3, dtype=torch.float64),
                             Camera(), 8)
