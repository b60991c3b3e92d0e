"""``Rasterizer.zero_gradient`` (``hard``): ``render`` projects without autograd and
gives the world vertices their zero gradient directly, with the silhouettes of the
autograd path; a camera parameter that needs its gradient keeps the full path."""

from __future__ import annotations

import pytest
import torch

import renderers
from metrics.meshes import template_sphere


def _scene(batch=3):
    v, f = template_sphere()
    return torch.as_tensor(v, dtype=torch.float32), torch.as_tensor(f), \
        renderers.Camera.benchmark(torch.arange(batch))


@pytest.mark.parametrize("single", [True, False])
def test_hard_render_gives_zeros_without_the_projection_backward(single):
    v, f, cam = _scene()
    r = renderers.build("hard", image_size=32)
    verts = (v if single else v[None].expand(3, -1, -1)).clone().requires_grad_(True)
    sil = r.render(verts, f, cam)
    assert type(sil.grad_fn).__name__ == "_ZeroGradientBackward"
    with torch.no_grad():
        plain = r.rasterize_mesh(cam.project(verts.reshape(-1, *v.shape).expand(3, -1, -1)),
                                 f)
    assert torch.equal(sil.detach(), plain)
    (sil * torch.rand(sil.shape)).sum().backward()
    assert verts.grad.shape == verts.shape and verts.grad.dtype == verts.dtype
    assert torch.equal(verts.grad, torch.zeros_like(verts))
    assert not torch.signbit(verts.grad).any()  # +0.0 everywhere


def test_hard_render_keeps_the_full_path_for_a_camera_gradient():
    v, f, _ = _scene()
    elevation = torch.full((3,), 30.0, requires_grad=True)
    cam = renderers.Camera(elevation=elevation, azimuth=torch.arange(3.0))
    verts = v[None].expand(3, -1, -1).clone().requires_grad_(True)
    sil = renderers.build("hard", image_size=32).render(verts, f, cam)
    assert type(sil.grad_fn).__name__ != "_ZeroGradientBackward"
    sil.sum().backward()
    assert elevation.grad is not None and torch.equal(elevation.grad, torch.zeros(3))
    assert torch.equal(verts.grad, torch.zeros_like(verts))


def test_hard_render_without_gradients_builds_no_graph():
    v, f, cam = _scene()
    r = renderers.build("hard", image_size=32)
    assert r.render(v, f, cam).grad_fn is None
    with torch.no_grad():
        assert r.render(v.clone().requires_grad_(True), f, cam).grad_fn is None


def test_only_hard_declares_a_zero_gradient():
    names = ("hard", "softras", "softras_torch", "n3mr", "dibr", "antialias", "edgegrad")
    assert [n for n in names if renderers.build(n).zero_gradient] == ["hard"]
