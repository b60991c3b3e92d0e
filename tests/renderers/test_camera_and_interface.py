"""The shared conventions (camera, screen space, pixel grid) and the renderer registry."""

from __future__ import annotations

import math

import pytest
import torch

import renderers
from renderers.camera import benchmark_azimuths, eye_position
from renderers.grid import column_of, pixel_centers, row_of


def test_eye_position_formula():
    d, el, az = 2.732, 30.0, 40.0
    e = eye_position(d, el, az)[0]
    r, a = math.radians(el), math.radians(az)
    expect = [d * math.cos(r) * math.sin(a), d * math.sin(r), -d * math.cos(r) * math.cos(a)]
    torch.testing.assert_close(e, torch.tensor(expect, dtype=torch.float64))


def test_projection_orientation():
    """Azimuth 0, elevation 0: world +x is screen right, +y screen up, the origin is at
    the centre at depth d, and viewing_angle is the half field of view."""
    cam = renderers.Camera(distance=2.0, elevation=0.0, azimuth=0.0, viewing_angle=30.0)
    pts = torch.tensor([[[0.0, 0, 0], [0.5, 0, 0], [0, 0.5, 0]]], dtype=torch.float64)
    p = cam.project(pts)[0]
    torch.testing.assert_close(p[0], torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64))
    assert p[1, 0] > 0 and abs(p[1, 1]) < 1e-12
    assert p[2, 1] > 0 and abs(p[2, 0]) < 1e-12
    torch.testing.assert_close(p[1, 0], torch.tensor(0.5 / (2.0 * math.tan(math.radians(30))),
                                                     dtype=torch.float64))


def test_benchmark_views():
    torch.testing.assert_close(benchmark_azimuths([0, 1, 23]),
                               torch.tensor([0.0, -15.0, -345.0], dtype=torch.float64))
    cam = renderers.Camera.benchmark()
    assert cam.viewing_angle == 15.0 and cam.azimuth.shape == (24,)
    with pytest.raises(ValueError, match="view ids"):
        benchmark_azimuths([24])


def test_camera_rejects_bad_parameters():
    with pytest.raises(ValueError, match="viewing_angle"):
        renderers.Camera(viewing_angle=0.0)
    with pytest.raises(ValueError, match="distance"):
        renderers.Camera(distance=-1.0)
    with pytest.raises(ValueError, match="finite"):
        renderers.Camera(azimuth=torch.tensor([float("nan")]))


def test_pixel_grid_convention():
    xs, ys = pixel_centers(4, 8)
    assert float(xs[0]) == pytest.approx(-1 + 1 / 8) and float(xs[-1]) == pytest.approx(1 - 1 / 8)
    assert float(ys[0]) == pytest.approx(1 - 1 / 4)  # row 0 is the top
    assert column_of(float(xs[3]), 8) == pytest.approx(3)
    assert row_of(float(ys[2]), 4) == pytest.approx(2)


@pytest.mark.parametrize("name", ["softras", "hard", "n3mr", "softras_torch"])
def test_every_renderer_orients_images_the_same_way(name):
    """A triangle in the upper-left quadrant lights up the upper-left of the image."""
    opts = {"sigma": 1e-4} if "soft" in name else {}
    r = renderers.get(name, image_size=16, **opts)
    fv = torch.tensor([[[[-0.9, 0.1, 1.0], [-0.1, 0.1, 1.0], [-0.5, 0.9, 1.0]]]],
                      dtype=torch.float64)
    s = r.rasterize(fv)[0] > 0.5
    assert s[:8, :8].sum() > 0 and s[8:].sum() == 0 and s[:, 8:].sum() == 0
    assert s.dtype == torch.bool


def test_registry_and_custom_renderer():
    assert {"softras", "hard", "n3mr", "softras_torch"} <= set(renderers.available())
    with pytest.raises(KeyError, match="unknown renderer"):
        renderers.get("nope")

    class Centre(renderers.Rasterizer):
        def rasterize(self, face_vertices):
            return face_vertices[..., 0].mean(dim=(1, 2))[:, None, None].expand(
                -1, self.height, self.width)

    renderers.register("test_centre", Centre)
    try:
        r = renderers.get("test_centre", image_size=(3, 5))
        v = torch.rand(2, 4, 3, dtype=torch.float64)
        f = torch.tensor([[0, 1, 2], [1, 2, 3]])
        s = r.render(v, f, renderers.Camera(azimuth=torch.tensor([0.0, 90.0])))
        assert s.shape == (2, 3, 5)
    finally:
        renderers.base._REGISTRY.pop("test_centre")
    with pytest.raises(TypeError, match="rasterize"):
        renderers.register("broken", type("Broken", (), {"render": lambda self: None}))


def test_render_validates_meshes():
    r = renderers.get("hard", image_size=8)
    cam = renderers.Camera()
    v = torch.rand(1, 4, 3)
    with pytest.raises(IndexError, match="out of range"):
        r.render(v, torch.tensor([[0, 1, 4]]), cam)
    with pytest.raises(TypeError, match="integer"):
        r.render(v, torch.tensor([[0.0, 1.0, 2.0]]), cam)
    with pytest.raises(ValueError, match="NaN"):
        r.render(torch.full((1, 4, 3), float("nan")), torch.tensor([[0, 1, 2]]), cam)
    with pytest.raises(ValueError, match="behind the camera"):
        far = torch.tensor([[[0.0, 0.0, -5.0], [0.1, 0, -5], [0, 0.1, -5]]])
        r.render(far, torch.tensor([[0, 1, 2]]), renderers.Camera(elevation=0.0))


def test_gather_faces_batched_and_shared():
    v = torch.arange(2 * 4 * 3, dtype=torch.float64).reshape(2, 4, 3)
    f = torch.tensor([[0, 1, 2], [3, 2, 1]])
    shared = renderers.gather_faces(v, f)
    batched = renderers.gather_faces(v, f[None].expand(2, -1, -1))
    torch.testing.assert_close(shared, batched)
    torch.testing.assert_close(shared[1, 1, 0], v[1, 3])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gather_faces_gradient_is_advanced_indexings_bit_for_bit(dtype):
    """The CPU gather's own backward (batch-last ``index_add_``, not the one-thread
    ``index_put_`` of ``vertices[:, faces]``) gives the same bits, repeated vertices
    included."""
    g = torch.Generator().manual_seed(0)
    v = torch.rand(3, 50, 3, dtype=dtype, generator=g)
    f = torch.randint(0, 50, (80, 3), generator=g)
    a, b = v.clone().requires_grad_(), v.clone().requires_grad_()
    mine, ref = renderers.gather_faces(a, f), b[:, f]
    assert "GatherShared" in mine.grad_fn.name()
    w = torch.rand(mine.shape, dtype=dtype, generator=g)
    (mine * w).sum().backward()
    (ref * w).sum().backward()
    assert torch.equal(mine, ref) and torch.equal(a.grad, b.grad)


def test_accepts_option():
    assert renderers.accepts_option("softras", "sigma")
    assert renderers.accepts_option("softras_torch", "sigma")
    assert not renderers.accepts_option("hard", "sigma")
    assert not renderers.accepts_option("n3mr", "sigma")
    with pytest.raises(KeyError, match="unknown renderer"):
        renderers.accepts_option("nope", "sigma")


@pytest.mark.parametrize("name", renderers.available())
def test_every_renderer_describes_itself(name):
    """Family, declared options with defaults in their valid range, a sharpness that is
    one of the options, and the one-line descriptions the report prints."""
    info = renderers.describe(name)
    assert info.family in renderers.FAMILIES
    assert info.options is not None and info.forward_model and info.gradient_rule
    assert info.paper and info.cost
    for opt in info.options:
        assert opt.validate(opt.default) == opt.default and opt.doc
    if info.sharpness is not None:
        assert info.sharpness in {o.name for o in info.options}
    assert (info.sharpness is None) == (info.family != "soft")


def test_sharpness_of_the_builtin_renderers():
    assert renderers.describe("softras").sharpness == "sigma"
    assert renderers.describe("softras_torch").sharpness == "sigma"
    assert renderers.describe("hard").sharpness is None
    assert renderers.describe("n3mr").sharpness is None


def test_build_sets_the_sharpness_parameter_and_validates_options():
    assert renderers.build("softras", image_size=8, sharpness=1e-4).sigma == 1e-4
    assert renderers.build("softras", image_size=8).sigma == renderers.describe(
        "softras").option("sigma").default
    hard = renderers.build("hard", image_size=(4, 6), sharpness=1e-4)  # no sharpness: ignored
    assert (hard.height, hard.width) == (4, 6)
    with pytest.raises(TypeError, match=r"no option.*'device'.*accepted.*sigma"):
        renderers.get("softras", device="cuda")
    with pytest.raises(TypeError, match=r"accepted: \['image_size', 'eps'\]"):
        renderers.build("n3mr", sigma=1e-4)
    with pytest.raises(TypeError, match="either sharpness or sigma"):
        renderers.build("softras", sharpness=1e-4, sigma=1e-3)
    with pytest.raises(KeyError, match="unknown renderer"):
        renderers.describe("nope")


def test_option_validation_names_the_option_and_range():
    opt = renderers.describe("softras").option("eps")
    assert opt.valid_range() == "(0, 0.5)"
    with pytest.raises(ValueError, match=r"eps must be .* in \(0, 0.5\)"):
        opt.validate(0.5)
    with pytest.raises(TypeError, match="eps must be float"):
        opt.validate("abc")
    chunk = renderers.describe("softras_torch").option("max_chunk_elements")
    with pytest.raises(TypeError, match="max_chunk_elements must be int"):
        chunk.validate(2.5)
    with pytest.raises(ValueError, match="max_chunk_elements"):
        chunk.validate(0)


def test_register_rejects_inconsistent_self_descriptions():
    class BadFamily(renderers.Rasterizer):
        family = "magic"

        def rasterize(self, face_vertices):
            return face_vertices

    with pytest.raises(ValueError, match="family"):
        renderers.register("bad_family_test", BadFamily)

    class BadSharpness(BadFamily):
        family = "soft"
        options = ()
        sharpness = "sigma"

    with pytest.raises(ValueError, match="sharpness"):
        renderers.register("bad_sharpness_test", BadSharpness)
    assert "bad_family_test" not in renderers.available()


def test_pixel_edges_bracket_the_pixel_centres():
    """renderers.grid.pixel_edges: the centres are the midpoints of their pixel's edges."""
    from renderers.grid import pixel_centers, pixel_edges

    xs, ys = pixel_centers(5, 7)
    xe, ye = pixel_edges(5, 7)
    assert xe.shape == (8,) and ye.shape == (6,)
    torch.testing.assert_close((xe[:-1] + xe[1:]) / 2, xs, rtol=0, atol=1e-15)
    torch.testing.assert_close((ye[:-1] + ye[1:]) / 2, ys, rtol=0, atol=1e-15)
    assert xe[0] == -1 and xe[-1] == 1 and ye[0] == 1 and ye[-1] == -1
