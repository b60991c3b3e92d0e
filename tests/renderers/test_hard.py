"""The ``hard`` rasterizer: binary silhouettes against an independent numpy
point-in-triangle test, and its (zero) gradient."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import renderers
import renderers.hard  # noqa: F401  (registers "hard")
from renderers.hard import HardRasterize, rasterize_coverage, rasterize_nearest_face


def pixel_centres_np(height, width):
    """(x [W], y [H]) pixel centres: the documented formula of renderers.grid."""
    j = np.arange(width)
    i = np.arange(height)
    return (2 * j + 1 - width) / width, (height - 1 - 2 * i) / height


def reference_silhouette(fv, height, width):
    """Union over faces of 'centre inside triangle', by barycentric coordinates
    (solve p = v0 + l1 (v1 - v0) + l2 (v2 - v0)); fv: numpy [B, F, 3, 3] float64."""
    xs, ys = pixel_centres_np(height, width)
    px, py = np.meshgrid(xs, ys, indexing="xy")  # [H, W]
    out = np.zeros((fv.shape[0], height, width))
    for b in range(fv.shape[0]):
        for f in range(fv.shape[1]):
            v0, v1, v2 = fv[b, f, :, :2]
            m = np.array([v1 - v0, v2 - v0]).T
            if np.linalg.det(m) == 0:
                continue
            rhs = np.stack([px - v0[0], py - v0[1]], axis=-1)[..., None]
            lam = np.linalg.solve(m, rhs)[..., 0]
            l1, l2 = lam[..., 0], lam[..., 1]
            inside = (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
            out[b][inside] = 1.0
    return out


def random_faces(nb, nf, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(nb, nf, 3, 2, generator=g, dtype=torch.float64) * 2.4 - 1.2
    z = torch.rand(nb, nf, 3, 1, generator=g, dtype=torch.float64) + 1.0
    return torch.cat([xy, z], dim=-1).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size", [(32, 32), (20, 37)])
def test_matches_numpy_point_in_triangle(dtype, size):
    fv = random_faces(3, 12, seed=7, dtype=dtype)
    h, w = size
    r = renderers.get("hard", image_size=size)
    sil = r.rasterize(fv)
    assert sil.shape == (3, h, w) and sil.dtype == dtype
    ref = reference_silhouette(fv.double().numpy(), h, w)
    assert 0 < ref.sum() < ref.size  # the case is not trivial
    np.testing.assert_array_equal(sil.numpy(), ref)


def test_either_winding_and_overlap():
    fv = random_faces(1, 4, seed=3, dtype=torch.float64)
    flipped = fv[:, :, [0, 2, 1]]
    both = torch.cat([fv, flipped], dim=1)  # every face twice, overlapping itself
    a = rasterize_coverage(fv, 24, 24)
    np.testing.assert_array_equal(a.numpy(), rasterize_coverage(flipped, 24, 24).numpy())
    np.testing.assert_array_equal(a.numpy(), rasterize_coverage(both, 24, 24).numpy())
    # overlapping faces: the union of the single-face images
    singles = torch.stack([rasterize_coverage(fv[:, k:k + 1], 24, 24) for k in range(4)])
    np.testing.assert_array_equal(a.numpy(), singles.amax(0).numpy())


def test_edges_inclusive_exact_count():
    # 4x4 image: centres at +-0.25, +-0.75 (exact in binary); the triangle's hypotenuse
    # x + y = 0 passes through two centres and its legs through six more.
    tri = torch.tensor([[[-0.75, -0.75, 1.0], [0.75, -0.75, 1.0], [-0.75, 0.75, 1.0]]],
                       dtype=torch.float64)[None]
    for fv in (tri, tri[:, :, [0, 2, 1]]):
        sil = rasterize_coverage(fv, 4, 4)
        assert int(sil.sum()) == 10
        # row 0 = top (y = +0.75): only the left column is covered
        assert sil[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0]
        assert sil[0, 3].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_degenerate_and_outside_faces_cover_nothing():
    fv = torch.tensor([[
        [[-0.5, -0.5, 1.0], [0.5, 0.5, 1.0], [0.0, 0.0, 1.0]],      # collinear
        [[0.1, 0.1, 1.0], [0.1, 0.1, 1.0], [0.1, 0.1, 1.0]],        # a point
        [[3.0, 3.0, 1.0], [4.0, 3.0, 1.0], [3.0, 4.0, 1.0]],        # off screen
        [[-1e30, -1e30, 1.0], [-1e30 + 1, -1e30, 1.0], [-1e30, -1e29, 1.0]],  # far off
    ]], dtype=torch.float64)
    assert rasterize_coverage(fv, 16, 16).sum() == 0
    sil, idx = rasterize_nearest_face(fv, 16, 16)
    assert sil.sum() == 0 and (idx == -1).all()


def test_huge_face_covers_everything():
    fv = torch.tensor([[[[-1e6, -1e6, 1.0], [1e6, -1e6, 1.0], [0.0, 1e6, 1.0]]]])
    assert rasterize_coverage(fv, 8, 12).sum() == 8 * 12


def test_no_faces_gives_empty_image():
    fv = torch.zeros(2, 0, 3, 3)
    assert rasterize_coverage(fv, 5, 6).shape == (2, 5, 6)
    assert rasterize_coverage(fv, 5, 6).sum() == 0


@pytest.mark.gradcheck
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_is_exactly_zero(dtype):
    fv = random_faces(2, 6, seed=1, dtype=dtype).requires_grad_(True)
    sil = HardRasterize.apply(fv, 16, 16)
    assert sil.requires_grad
    target = torch.rand(2, 16, 16, dtype=dtype)
    ((sil - target) ** 2).sum().backward()
    assert fv.grad is not None and fv.grad.shape == fv.shape and fv.grad.dtype == dtype
    assert torch.count_nonzero(fv.grad) == 0


def test_nearest_face_picks_the_closer_face():
    near = [[-0.9, -0.9, 1.5], [0.5, -0.9, 1.5], [-0.9, 0.5, 1.5]]
    far = [[-0.5, -0.5, 3.0], [0.9, -0.5, 3.0], [-0.5, 0.9, 3.0]]
    for order, near_index in (([far, near], 1), ([near, far], 0)):
        fv = torch.tensor([order], dtype=torch.float32)
        sil, idx = rasterize_nearest_face(fv, 16, 16)
        np.testing.assert_array_equal(sil.numpy(), rasterize_coverage(fv, 16, 16).numpy())
        only_near = rasterize_coverage(fv[:, near_index:near_index + 1], 16, 16)
        assert idx.dtype == torch.int32
        assert (idx[only_near > 0] == near_index).all()
        assert (idx[(sil > 0) & (only_near == 0)] == 1 - near_index).all()
        assert (idx[sil == 0] == -1).all()


def test_render_through_camera():
    # a unit cube seen by the default camera from two azimuths
    v = torch.tensor([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)],
                     dtype=torch.float32)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = torch.tensor([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    cam = renderers.Camera(azimuth=torch.tensor([0.0, 45.0]))
    r = renderers.get("hard", image_size=32)
    sil = r.render(v, faces, cam)
    assert sil.shape == (2, 32, 32)
    assert set(sil.unique().tolist()) == {0.0, 1.0}
    # the same faces projected by hand give the same images
    screen = cam.project(v.unsqueeze(0).expand(2, -1, -1))
    np.testing.assert_array_equal(sil.numpy(), rasterize_coverage(screen[:, faces], 32, 32).numpy())
    # the cube is centred: its silhouette touches neither border and contains the centre
    assert sil[:, 15:17, 15:17].min() == 1 and sil[:, 0].max() == 0 and sil[:, :, 0].max() == 0


@pytest.mark.parametrize("name", ["hard", "n3mr"])
def test_bad_input_raises(name):
    import renderers.n3mr  # noqa: F401  (registers "n3mr")

    r = renderers.get(name, image_size=8)
    good = random_faces(1, 2, seed=0, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"\[B, F, 3, 3\]"):
        r.rasterize(good[:, :, :2])
    with pytest.raises(TypeError, match="float32 or float64"):
        r.rasterize(good.to(torch.int32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        r.rasterize(good.numpy())
    nan = good.clone()
    nan[0, 1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        r.rasterize(nan)
    for z in (0.0, -1.0):
        behind = good.clone()
        behind[0, 0, 1, 2] = z
        with pytest.raises(ValueError, match="behind the camera"):
            r.rasterize(behind)
    with pytest.raises(ValueError, match="image size"):
        renderers.get(name, image_size=(0, 4))


def _screen_mesh(dtype, nb=3, nv=40, nf=70, seed=4):
    g = torch.Generator().manual_seed(seed)
    sv = torch.rand(nb, nv, 3, generator=g, dtype=torch.float64).to(dtype) * 2.2 - 1.1
    sv[..., 2] = sv[..., 2].abs() + 1.0  # depth > 0
    faces = torch.randint(0, nv - 1, (nf, 3), generator=g)  # vertex nv - 1 unused
    return sv, faces


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mesh_coverage_gathers_in_the_kernel_with_the_same_bits(dtype, monkeypatch):
    """``rasterize_coverage_mesh`` on the CPU gathers the corners in the kernel and gives
    the gathered faces' silhouettes bit for bit; an unused vertex the checks would
    refuse (NaN) sends it to the gathered path, with the same result."""
    import renderers.hard.function as hard_fn
    from renderers.base import gather_faces

    sv, faces = _screen_mesh(dtype)
    expect = rasterize_coverage(gather_faces(sv, faces), 17, 23)
    calls = []
    indexed = hard_fn.kernels.coverage_indexed
    monkeypatch.setattr(hard_fn.kernels, "coverage_indexed",
                        lambda *a: calls.append(1) or indexed(*a))
    got = hard_fn.rasterize_coverage_mesh(sv, faces, 17, 23)
    assert calls and torch.equal(got, expect) and got.dtype == dtype
    assert expect.sum() > 0
    sv[1, -1] = float("nan")  # not used by any face
    calls.clear()
    assert torch.equal(hard_fn.rasterize_coverage_mesh(sv, faces, 17, 23), expect)
    assert not calls


def test_mesh_coverage_refuses_what_the_faces_check_refuses():
    import renderers.hard.function as hard_fn

    sv, faces = _screen_mesh(torch.float32)
    sv[0, faces[5, 1], 2] = -1.0  # a used vertex behind the camera
    with pytest.raises(ValueError, match="behind the camera"):
        hard_fn.rasterize_coverage_mesh(sv, faces, 17, 23)


@pytest.mark.parametrize("name", ["antialias", "edgegrad"])
def test_mesh_paths_check_their_faces_once(name, monkeypatch):
    """``antialias`` and ``edgegrad`` check their gathered faces (with the coordinate
    limit) and tell the z-buffer so (``checked=True``): one check per render, not two;
    without ``checked`` the z-buffer still checks on its own."""
    import importlib

    import renderers.hard.function as hard_fn
    from renderers import validation

    owner = importlib.import_module({"antialias": "renderers.antialias.function",
                                     "edgegrad": "renderers.edgegrad"}[name])
    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs.get("max_coordinate", "default"))
        return validation.check_face_vertices(*args, **kwargs)

    monkeypatch.setattr(owner, "check_face_vertices", counting)
    monkeypatch.setattr(hard_fn, "check_face_vertices", counting)
    sv, faces = _screen_mesh(torch.float32)
    r = renderers.build(name, image_size=16)
    r.rasterize_mesh(sv, faces)
    assert calls == ["default"]
    calls.clear()
    hard_fn.rasterize_nearest_face(sv[:, faces], 16, 16)
    assert calls == [None]
    with pytest.raises(ValueError, match="NaN"):
        hard_fn.rasterize_nearest_face(torch.full((1, 2, 3, 3), float("nan")), 8, 8)


def _span_faces(size: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """float64 faces for the row spans: :func:`random_meshes.hard_faces` (slivers, far
    vertices, degenerate, both windings), faces with vertices exactly on pixel centres
    (edges through centres: inclusive coverage), axis-aligned faces, faces beyond the
    spans' coordinate limit (float64; 1e30 in float32), tiny faces around a centre."""
    from random_meshes import hard_faces

    h, w = size
    g = torch.Generator().manual_seed(21)
    fv = hard_faces()
    nb = fv.shape[0]
    grid = torch.randint(0, min(h, w), (nb, 30, 3, 2), generator=g).double()
    on_centres = torch.stack([(2 * grid[..., 1] + 1 - w) / w, (h - 1 - 2 * grid[..., 0]) / h],
                             dim=-1)
    extra = torch.empty(nb, 40, 3, 3, dtype=torch.float64)
    extra[..., 2] = 1.0 + torch.rand(nb, 40, 3, generator=g, dtype=torch.float64)
    extra[:, :30, :, :2] = on_centres
    extra[:, 30:33, :, :2] = torch.tensor([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5]],
                                          dtype=torch.float64)  # axis-aligned edges
    big = 1e200 if dtype == torch.float64 else 1e30
    extra[:, 33:35, :, :2] = torch.tensor([[-big, -0.3], [big, -0.3], [0.0, big]],
                                          dtype=torch.float64)  # huge, beyond the limit
    centre = on_centres[:, :5, :1]  # tiny faces around a pixel centre
    extra[:, 35:40, :, :2] = centre + 1e-9 * torch.tensor(
        [[1.0, 0.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    return torch.cat([fv, extra, extra.flip(2)], dim=1).to(dtype).contiguous()


@pytest.mark.parametrize("size", [(23, 31), (64, 64), (5, 9)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_spans_keep_every_covered_pixel(size, dtype):
    """The kernels cut each box row to the columns the three edges can cover, widened by a
    margin far above rounding: coverage and the z-buffer's keys are bit-equal to the
    scan of whole box rows, on faces chosen to sit on that boundary."""
    from renderers.hard import kernels
    from renderers.taichi_runtime import ensure_init

    ensure_init("cpu")
    fv = _span_faces(size, dtype)
    nb, (h, w) = fv.shape[0], size
    cov = [torch.zeros(nb, h, w, dtype=dtype) for _ in range(2)]
    keys = [torch.full((nb, h, w), kernels.EMPTY_KEY, dtype=torch.int64) for _ in range(2)]
    for k, spans in enumerate((True, False)):
        kernels.coverage(fv, cov[k], spans=spans)
        kernels.nearest_face(fv, keys[k], spans=spans)
    assert 0 < int(cov[0].sum()) < nb * h * w
    assert torch.equal(cov[0], cov[1])
    assert torch.equal(keys[0], keys[1])
    _, face_index = rasterize_nearest_face(fv, h, w)  # the CPU's one-launch maps
    expect = torch.where(keys[1] != kernels.EMPTY_KEY, keys[1] & 0xFFFFFFFF, -1)
    assert torch.equal(face_index.long(), expect)


def test_scanned_pixel_count_lies_between_covered_and_box_pixels():
    """The work count of the z-buffer renderers: whole box rows without the spans (the
    box count, all faces having area here); with them fewer, never fewer than the
    covered pixel-face pairs."""
    from renderers.hard import bbox_pixel_count, scanned_pixel_count
    from renderers.soft_math import pixel_face_terms

    fv = random_faces(3, 50, seed=3, dtype=torch.float64)
    fv[..., :2] *= 0.4  # small faces, as a mesh's
    h, w = 21, 26
    whole = scanned_pixel_count(fv, h, w, spans=False)
    cut = scanned_pixel_count(fv, h, w)
    xs = (2 * torch.arange(w, dtype=torch.float64) + 1 - w) / w
    ys = (h - 1 - 2 * torch.arange(h, dtype=torch.float64)) / h
    _, inside = pixel_face_terms(xs.repeat(h), ys.repeat_interleave(w), fv)
    assert whole == bbox_pixel_count(fv, h, w)
    assert int(inside.sum()) <= cut < whole
    assert renderers.build("hard", image_size=(h, w)).pairs_evaluated(fv) == cut


@st.composite
def _triangles(draw):
    """1-6 faces over a small image, corners drawn from pixel centres (edges through
    centres, axis-aligned edges), random points on and off screen and far values."""
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    centre = st.tuples(st.integers(-1, w), st.integers(-1, h)).map(
        lambda ji: ((2 * ji[0] + 1 - w) / w, (h - 1 - 2 * ji[1]) / h))
    anywhere = st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
    far = st.tuples(st.sampled_from([-1e6, -3.0, 3.0, 1e6, 0.0]),
                    st.sampled_from([-1e6, -3.0, 3.0, 1e6, 0.0]))
    corner = st.one_of(centre, centre, anywhere, far)
    n = draw(st.integers(1, 6))
    xy = [[draw(corner) for _ in range(3)] for _ in range(n)]
    depth = [[draw(st.floats(0.5, 3.0)) for _ in range(3)] for _ in range(n)]
    fv = torch.tensor([[[x, y, z] for (x, y), z in zip(face, zs, strict=True)]
                       for face, zs in zip(xy, depth, strict=True)], dtype=torch.float64)
    return fv[None], h, w


@given(case=_triangles(), single=st.booleans())
@settings(max_examples=150, deadline=None)
def test_row_spans_keep_every_covered_pixel_fuzzed(case, single):
    from renderers.hard import kernels
    from renderers.taichi_runtime import ensure_init

    ensure_init("cpu")
    fv, h, w = case
    fv = fv.float() if single else fv
    cov = [torch.zeros(1, h, w, dtype=fv.dtype) for _ in range(2)]
    keys = [torch.full((1, h, w), kernels.EMPTY_KEY, dtype=torch.int64) for _ in range(2)]
    for k, spans in enumerate((True, False)):
        kernels.coverage(fv, cov[k], spans=spans)
        kernels.nearest_face(fv, keys[k], spans=spans)
    assert torch.equal(cov[0], cov[1]) and torch.equal(keys[0], keys[1])
