"""``softras`` gathers the faces inside its kernels on the CPU
(:meth:`renderers.softras.SoftRas.rasterize_mesh`): the same bits as the gathered path,
and the same checks, decided on the vertices when they suffice and on the gathered
faces when they do not."""

from __future__ import annotations

import pytest
import torch

import renderers
from metrics.meshes import template_sphere
from renderers import Camera, gather_faces
from renderers.validation import MIN_DEPTH, vertices_pass_face_checks

VIEWS = torch.tensor([0, 7])


def _mesh(dtype=torch.float32):
    v, f = template_sphere(subdivisions=2, radius=0.3)
    v = torch.as_tensor(v, dtype=dtype)[None].expand(len(VIEWS), -1, -1).contiguous()
    return v, torch.as_tensor(f)


def _both(v, faces, **options):
    """(silhouettes, vertex gradients) of ``render`` and of the gathered path."""
    r = renderers.build("softras", image_size=32, **options)
    cam = Camera.benchmark(VIEWS)
    w = torch.rand(len(VIEWS), 32, 32, generator=torch.Generator().manual_seed(0),
                   dtype=v.dtype)
    out = []
    for fused in (True, False):
        x = v.clone().requires_grad_(True)
        s = (r.render(x, faces, cam) if fused
             else r.rasterize(gather_faces(cam.project(x), faces)))
        (s * w).sum().backward()
        out.append((s.detach(), x.grad))
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_an_unused_vertex_behind_the_camera_is_no_error_and_changes_nothing(dtype):
    v, f = _mesh(dtype)
    far = torch.tensor([[[0.0, 0.0, -1e3]]], dtype=dtype).expand(len(VIEWS), 1, 3)
    v = torch.cat([v, far], dim=1)  # vertex V: behind the camera, used by no face
    cam = Camera.benchmark(VIEWS)
    assert not vertices_pass_face_checks(cam.project(v), f.shape[0])
    (s1, g1), (s2, g2) = _both(v, f)
    assert torch.equal(s1, s2) and torch.equal(g1, g2)
    assert s1.max() > 0.5 and torch.all(g1[:, -1] == 0)


def test_a_used_vertex_behind_the_camera_is_the_same_one_line_error():
    v, f = _mesh()
    v = v.clone()
    v[:, int(f[0, 0])] = torch.tensor([0.0, 0.0, -1e3])
    r = renderers.build("softras", image_size=32)
    cam = Camera.benchmark(VIEWS)
    with pytest.raises(ValueError, match=r"geometry behind the camera: \d+ face vertices") as a:
        r.render(v, f, cam)
    with pytest.raises(ValueError) as b:
        r.rasterize(gather_faces(cam.project(v), f))
    assert str(a.value) == str(b.value)


def test_vertex_checks_decide_only_what_they_can():
    v, f = _mesh()
    s = Camera.benchmark(VIEWS).project(v)
    assert vertices_pass_face_checks(s, f.shape[0])
    for bad in (float("nan"), float("inf")):
        t = s.clone()
        t[0, 3, 1] = bad
        assert not vertices_pass_face_checks(t, f.shape[0])
    t = s.clone()
    t[1, 5, 2] = MIN_DEPTH / 2
    assert not vertices_pass_face_checks(t, f.shape[0])
    assert not vertices_pass_face_checks(s.double() * 1e151, f.shape[0])
    assert not vertices_pass_face_checks(s[:, :0], f.shape[0])
    assert not vertices_pass_face_checks(s.to(torch.float16), f.shape[0])


@pytest.mark.parametrize("options", [{"backward": "autodiff"}, {"precision": "float64"}])
def test_other_options_give_the_gathered_bits(options):
    v, f = _mesh()
    (s1, g1), (s2, g2) = _both(v, f, **options)
    assert torch.equal(s1, s2)
    if options.get("backward") != "autodiff":  # autodiff's rounding follows threads
        assert torch.equal(g1, g2)
