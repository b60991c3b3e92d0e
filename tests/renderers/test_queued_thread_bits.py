"""The queued CPU kernels of hard, n3mr, dibr, antialias and edgegrad give the same bits
on 1 and 2 Taichi threads (fresh processes, so the pools really have that size): forward
silhouettes and vertex gradients, float32 and float64, an odd batch (a static split
would cut an image in two) through ``render`` (the mesh paths) and ``rasterize``."""

import os
import subprocess
import sys
from pathlib import Path

import torch
from random_meshes import random_faces

_SCRIPT = """
import hashlib, sys
sys.path.insert(0, {tests!r})
import torch, renderers
from random_meshes import random_faces
out = []
for name in ("hard", "n3mr", "dibr", "antialias", "edgegrad"):
    for dt in (torch.float32, torch.float64):
        kw = {{"sharpness": 3e-4}} if name == "dibr" else {{}}
        r = renderers.build(name, image_size=40, **kw)
        g = torch.Generator().manual_seed(5)
        v = ((torch.rand(5, 70, 3, generator=g, dtype=torch.float64) - 0.5) * 0.9).to(dt)
        f = torch.randint(0, 70, (120, 3), generator=g)
        cam = renderers.Camera.benchmark(torch.arange(5))
        x = v.clone().requires_grad_(True)
        s = r.render(x, f, cam)
        w = torch.rand(s.shape, generator=g, dtype=torch.float64).to(dt)
        (s * w).sum().backward()
        fv = random_faces(5, 90, dtype=dt, seed=2, scale=0.9).requires_grad_(True)
        s2 = r.rasterize(fv)
        (s2 * w).sum().backward()
        data = b"".join(t.detach().numpy().tobytes() for t in (s, x.grad, s2, fv.grad))
        out.append(name + str(dt) + hashlib.sha1(data).hexdigest())
print(*out)
"""


def _digests(threads: int) -> list[str]:
    tests = str(Path(__file__).parent)
    env = {**os.environ, "SOFTRAS_BENCH_THREADS": str(threads),
           "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", _SCRIPT.format(tests=tests)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-10:]


def test_queued_renderers_give_the_same_bits_on_one_and_two_threads():
    one = _digests(1)
    assert len(one) == 10
    assert _digests(2) == one


def test_dibr_face_order_is_the_stable_sort_by_face():
    """``selected_pairs(with_face_order=True)``'s order, found without a sort, equals
    ``torch.sort(pair_face, stable=True).indices``."""
    from renderers.dibr.function import selected_pairs
    from renderers.hard import rasterize_nearest_face

    fv = random_faces(3, 200, dtype=torch.float64, seed=6, scale=0.9)
    sil, _ = rasterize_nearest_face(fv, 32, 32)
    face, _pix, _total, order = selected_pairs(fv, sil > 0.5, 0.05, 4, with_face_order=True)
    assert face.numel() > 0
    assert torch.equal(order, torch.sort(face.long(), stable=True).indices)
