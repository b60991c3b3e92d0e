"""The ``n3mr`` rasterizer: forward = ``hard``; backward = Kato et al.'s approximate
gradient, checked on hand-computed single-pixel cases and on a translated square."""

import numpy as np
import pytest
import torch

import renderers
import renderers.hard  # noqa: F401  (registers "hard")
import renderers.n3mr  # noqa: F401  (registers "n3mr")
from renderers.hard import rasterize_coverage, rasterize_nearest_face
from renderers.n3mr import N3MRRasterize, approximate_gradient

EPS = 1e-3


def screen_xy(col, row, height, width):
    """Screen (x, y) of the continuous pixel position (column, row) (renderers.grid)."""
    return (2 * col + 1 - width) / width, (height - 1 - 2 * row) / height


def face_from_pixels(points, height, width, depth=2.0, dtype=torch.float64):
    """One face [1, 1, 3, 3] from three (column, row) pixel positions."""
    rows = [[*screen_xy(c, r, height, width), depth] for c, r in points]
    return torch.tensor([[rows]], dtype=dtype)


def quad_mesh(x0, x1, y0, y1, dtype=torch.float64):
    """Axis-aligned rectangle as two triangles: vertices [4, 3] (bottom-left,
    bottom-right, top-right, top-left) and faces [2, 3]."""
    v = torch.tensor([[x0, y0, 2.0], [x1, y0, 2.0], [x1, y1, 2.0], [x0, y1, 2.0]], dtype=dtype)
    return v, torch.tensor([[0, 1, 2], [0, 2, 3]])


def mse_grad(v, faces, target, size):
    r = renderers.get("n3mr", image_size=size)
    v = v.clone().requires_grad_(True)
    sil = r.rasterize(v[faces].unsqueeze(0))
    ((sil - target) ** 2).sum().backward()
    return v.grad


def iou_loss(sil, target):
    inter = (sil * target).sum()
    return 1 - inter / (sil + target - sil * target).sum()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_equals_hard(dtype):
    g = torch.Generator().manual_seed(11)
    xy = torch.rand(2, 15, 3, 2, generator=g, dtype=torch.float64) * 2.2 - 1.1
    z = torch.rand(2, 15, 3, 1, generator=g, dtype=torch.float64) + 1.0
    fv = torch.cat([xy, z], -1).to(dtype)
    for size in (24, (18, 29)):
        n3mr = renderers.get("n3mr", image_size=size).rasterize(fv)
        hard = renderers.get("hard", image_size=size).rasterize(fv)
        assert n3mr.dtype == dtype
        np.testing.assert_array_equal(n3mr.numpy(), hard.numpy())


@pytest.mark.gradcheck
@pytest.mark.parametrize("size", [(32, 32), (24, 40)])
def test_single_pixel_x_gradient_by_hand(size):
    """Vertical right edge at column 10.3 from row 5 to row 20; the loss wants pixel
    (row 12, column 12) covered.  Only that edge's out-branch on row 12 reaches the
    pixel: the edge must move by 1.7 columns there, i.e. its endpoints by
    1.7 / t (t = 8/15 for the row-5 end, 7/15 for the row-20 end)."""
    h, w = size
    fv = face_from_pixels([(10.3, 5.0), (10.3, 20.0), (2.5, 12.5)], h, w).requires_grad_(True)
    sil = renderers.get("n3mr", image_size=size).rasterize(fv)
    assert sil[0, 12, 10] == 1 and sil[0, 12, 11] == 0
    (-sil[0, 12, 12]).backward()
    expected = torch.zeros(3, 3, dtype=torch.float64)
    expected[0, 0] = -1 / (1.7 * 15 / 8 * 2 / w + EPS)
    expected[1, 0] = -1 / (1.7 * 15 / 7 * 2 / w + EPS)
    torch.testing.assert_close(fv.grad[0, 0], expected, rtol=1e-12, atol=0)


@pytest.mark.gradcheck
@pytest.mark.parametrize("size", [(32, 32), (40, 24)])
def test_single_pixel_y_gradient_by_hand(size):
    """Horizontal top edge at row 10.3 (rows grow downwards) from column 4 to 20; the
    loss wants the pixel 2.3 rows above it (row 8, column 9) covered, so descent must
    move the edge up: dL/dy < 0, with displacement 2.3 rows = 2.3 * 2 / H in y."""
    h, w = size
    fv = face_from_pixels([(4.0, 10.3), (20.0, 10.3), (12.0, 18.5)], h, w).requires_grad_(True)
    sil = renderers.get("n3mr", image_size=size).rasterize(fv)
    assert sil[0, 11, 9] == 1 and sil[0, 10, 9] == 0
    (-sil[0, 8, 9]).backward()
    expected = torch.zeros(3, 3, dtype=torch.float64)
    expected[0, 1] = -1 / (2.3 * 16 / 11 * 2 / h + EPS)  # t = (20 - 9) / 16
    expected[1, 1] = -1 / (2.3 * 16 / 5 * 2 / h + EPS)   # t = (9 - 4) / 16
    torch.testing.assert_close(fv.grad[0, 0], expected, rtol=1e-12, atol=0)


@pytest.mark.gradcheck
def test_in_branch_uncovering_by_hand():
    """The loss wants the covered pixel (row 12, column 9) empty.  Along row 12 two
    edges can uncover it by moving inwards: the right edge (column 10.3, endpoints at
    rows 5 and 20) by 1.3 columns to the left, and the upper-left edge (from (2.5, 12.5)
    to (10.3, 5), crossing row 12 at column 3.02) by 5.98 columns to the right."""
    h = w = 32
    fv = face_from_pixels([(10.3, 5.0), (10.3, 20.0), (2.5, 12.5)], h, w).requires_grad_(True)
    sil = renderers.get("n3mr", image_size=w).rasterize(fv)
    assert sil[0, 12, 9] == 1
    sil[0, 12, 9].backward()
    right = [1 / (1.3 / t * 2 / w + EPS) for t in (8 / 15, 7 / 15)]  # pull left: dL/dx > 0
    upper_left = [-1 / (5.98 / t * 2 / w + EPS) for t in (1 / 15, 14 / 15)]  # push right
    gx = fv.grad[0, 0, :, 0].tolist()
    assert gx[0] == pytest.approx(right[0] + upper_left[0], rel=1e-9)
    assert gx[1] == pytest.approx(right[1], rel=1e-12)
    assert gx[2] == pytest.approx(upper_left[1], rel=1e-9)


@pytest.mark.gradcheck
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loss", ["mse", "iou"])
def test_square_translated_right(dtype, loss):
    """Target = the square moved right by 4 pixels: descent moves every vertex right."""
    size = 32
    v, faces = quad_mesh(-0.41, 0.37, -0.43, 0.39, dtype)
    target_v, _ = quad_mesh(-0.41 + 0.25, 0.37 + 0.25, -0.43, 0.39, dtype)
    target = rasterize_coverage(target_v[faces].unsqueeze(0), size, size)
    v = v.clone().requires_grad_(True)
    sil = renderers.get("n3mr", image_size=size).rasterize(v[faces].unsqueeze(0))
    value = ((sil - target) ** 2).sum() if loss == "mse" else iou_loss(sil, target)
    value.backward()
    gx, gy, gz = v.grad.unbind(-1)
    assert (gx < 0).all(), gx
    assert (gz == 0).all()
    # the y components only shrink the square vertically (bottom pushed up, top
    # pushed down); there is no net vertical motion to speak of
    assert gy[0] < 0 and gy[3] > 0
    assert abs(gy.sum()) < 0.05 * abs(gx.sum())
    # a small step along the descent direction lowers the loss
    with torch.no_grad():
        moved = v - 0.05 * v.grad / v.grad.abs().max()
        sil2 = rasterize_coverage(moved[faces].unsqueeze(0), size, size)
        value2 = ((sil2 - target) ** 2).sum() if loss == "mse" else iou_loss(sil2, target)
    assert value2 < value


@pytest.mark.gradcheck
def test_tall_rectangle_translated_gives_pure_x_gradient():
    """A rectangle through the whole image height moved left by 3 pixels: the x
    gradients are positive (descent moves left) and y gradients exactly zero."""
    size = (24, 32)
    v, faces = quad_mesh(-0.33, 0.29, -1.5, 1.5)
    target_v, _ = quad_mesh(-0.33 - 3 * 2 / 32, 0.29 - 3 * 2 / 32, -1.5, 1.5)
    target = rasterize_coverage(target_v[faces].unsqueeze(0), *size)
    g = mse_grad(v, faces, target, size)
    assert (g[:, 0] > 0).all(), g
    assert (g[:, 1:] == 0).all()


@pytest.mark.gradcheck
def test_wide_rectangle_translated_up_gives_pure_y_gradient():
    """A rectangle through the whole image width moved up (y+) by 3 rows: descent
    moves every vertex up (dL/dy < 0, rows run against y) and x gradients vanish."""
    size = (32, 24)
    v, faces = quad_mesh(-1.5, 1.5, -0.41, 0.27)
    target_v, _ = quad_mesh(-1.5, 1.5, -0.41 + 3 * 2 / 32, 0.27 + 3 * 2 / 32)
    target = rasterize_coverage(target_v[faces].unsqueeze(0), *size)
    g = mse_grad(v, faces, target, size)
    assert (g[:, 1] < 0).all(), g
    assert (g[:, 0] == 0).all() and (g[:, 2] == 0).all()


@pytest.mark.gradcheck
def test_no_gradient_where_the_loss_cannot_improve():
    v, faces = quad_mesh(-0.41, 0.37, -0.43, 0.39)
    fv = v[faces].unsqueeze(0).requires_grad_(True)
    sil = renderers.get("n3mr", image_size=32).rasterize(fv)
    # rendered == target: 1 - IoU has non-zero dL/dsil everywhere but no flip helps
    iou_loss(sil, sil.detach().clone()).backward()
    assert torch.count_nonzero(fv.grad) == 0
    # wanting more coverage inside the silhouette and less outside cannot be improved
    fv.grad = None
    sil = renderers.get("n3mr", image_size=32).rasterize(fv)
    (sil * torch.where(sil > 0, -1.0, 1.0)).sum().backward()
    assert torch.count_nonzero(fv.grad) == 0


@pytest.mark.gradcheck
def test_occluded_face_gets_no_gradient():
    """A face hidden behind another owns no pixel (z-buffer), so only the visible face
    gets gradient; either winding of the visible face gives the same gradient."""
    near = [[-0.6, -0.6, 1.5], [0.6, -0.6, 1.5], [-0.6, 0.6, 1.5]]
    far = [[-0.3, -0.3, 3.0], [0.3, -0.3, 3.0], [-0.3, 0.3, 3.0]]
    target = torch.zeros(1, 32, 32, dtype=torch.float64)
    grads = []
    for tri in (near, [near[0], near[2], near[1]]):
        fv = torch.tensor([[tri, far]], dtype=torch.float64).requires_grad_(True)
        sil = renderers.get("n3mr", image_size=32).rasterize(fv)
        ((sil - target) ** 2).sum().backward()
        assert torch.count_nonzero(fv.grad[0, 1]) == 0
        assert torch.count_nonzero(fv.grad[0, 0]) > 0
        grads.append(fv.grad[0, 0])
    torch.testing.assert_close(grads[1], grads[0][[0, 2, 1]], rtol=1e-12, atol=0)


@pytest.mark.gradcheck
def test_float32_matches_float64():
    v, faces = quad_mesh(-0.41, 0.37, -0.43, 0.39)
    target_v, _ = quad_mesh(-0.2, 0.5, -0.3, 0.6)
    target = rasterize_coverage(target_v[faces].unsqueeze(0), 32, 32)
    g64 = mse_grad(v, faces, target, 32)
    g32 = mse_grad(v.float(), faces, target.float(), 32)
    assert g32.dtype == torch.float32
    torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=1e-3)


def test_render_through_camera_and_batch():
    """Two views of a cube through r.render: forward = hard, and a target moved right
    on screen pulls the vertices so that their screen x grows."""
    verts = torch.tensor([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5)
                          for z in (-0.5, 0.5)], dtype=torch.float64)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = torch.tensor([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    cam = renderers.Camera(azimuth=torch.tensor([0.0, 45.0], dtype=torch.float64))
    r = renderers.get("n3mr", image_size=32)
    v = verts.unsqueeze(0).expand(2, -1, -1).clone().requires_grad_(True)
    sil = r.render(v, faces, cam)
    np.testing.assert_array_equal(sil.detach().numpy(),
                                  renderers.get("hard", image_size=32).render(v, faces, cam)
                                  .detach().numpy())
    target = torch.roll(sil.detach(), shifts=3, dims=2)
    ((sil - target) ** 2).sum().backward()
    assert v.grad.shape == v.shape and torch.isfinite(v.grad).all()
    # screen-space gradient by chain rule through the camera: dL/dx_screen summed
    screen = cam.project(v.detach()).requires_grad_(True)
    sil2 = r.rasterize(renderers.gather_faces(screen, faces))
    ((sil2 - target) ** 2).sum().backward()
    assert (screen.grad[..., 0].sum(dim=1) < 0).all()


def test_approximate_gradient_checks_shapes_and_eps():
    v, faces = quad_mesh(-0.4, 0.4, -0.4, 0.4)
    fv = v[faces].unsqueeze(0)
    sil, idx = rasterize_nearest_face(fv, 8, 8)
    with pytest.raises(ValueError, match="grad_silhouette"):
        approximate_gradient(fv, sil, idx, torch.zeros(1, 8, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="eps"):
        approximate_gradient(fv, sil, idx, torch.zeros_like(sil), eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        renderers.get("n3mr", image_size=8, eps=-1.0)
    with pytest.raises(TypeError, match="eps"):
        N3MRRasterize.apply(fv, 8, 8, "big")
    zero = approximate_gradient(fv, sil, idx, torch.zeros_like(sil))
    assert zero.shape == fv.shape and torch.count_nonzero(zero) == 0
