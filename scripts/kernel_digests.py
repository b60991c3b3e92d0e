"""SHA-1 digests of ``softras`` silhouettes and vertex gradients over a grid of
settings: run it before and after a kernel change and compare the two outputs.

The kernels compile with Taichi's ``fast_math``, so restructured code can round
differently even where its formulas are unchanged; the tests compare against the
reference renderers within tolerances, this compares bits (trained results depend on
them).  Usage::

    python scripts/kernel_digests.py --out before.json   # on the old commit
    python scripts/kernel_digests.py --out after.json    # on the new one
    diff before.json after.json                          # no output: the same bits

Settings: image sizes 64, 37, 50x100, 97x31 and 128; float32 and float64; sigma 3e-5,
1e-4 and 1e-3; 6 noisy template spheres seen from benchmark views.  Per setting four
digests (12 hex digits each): ``render`` silhouettes, their world-vertex gradient,
``rasterize`` silhouettes of the gathered faces and their face-vertex gradient.  The
digests are for one machine: glibc picks ``expf``/``logf`` variants by CPU feature.
``--quick``: 64 pixels, float32, sigma 3e-5 only.
"""

from __future__ import annotations

import argparse
import hashlib

import torch

import renderers
from bench_softras.atomic import write_json
from metrics.meshes import template_sphere
from renderers.base import gather_faces

SIZES = (64, 37, (50, 100), (97, 31), 128)
DTYPES = (torch.float32, torch.float64)
SIGMAS = (3e-5, 1e-4, 1e-3)
BATCH = 6


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha1(t.detach().contiguous().numpy().tobytes()).hexdigest()[:12]


def digests(size, dtype: torch.dtype, sigma: float, gen: torch.Generator) -> list[str]:
    """The four digests of one setting (module docstring)."""
    v, f = template_sphere()
    faces = torch.as_tensor(f)
    verts = torch.as_tensor(v, dtype=dtype)[None].expand(BATCH, -1, -1).contiguous()
    verts = verts + 0.05 * torch.randn(verts.shape, generator=gen, dtype=dtype)
    cam = renderers.Camera.benchmark(torch.arange(BATCH) * 3)
    r = renderers.build("softras", image_size=size, sharpness=sigma)
    vv = verts.clone().requires_grad_(True)
    sil = r.render(vv, faces, cam)
    weight = torch.rand(sil.shape, generator=gen, dtype=dtype)
    (sil * weight).sum().backward()
    fv = gather_faces(cam.project(verts), faces).clone().requires_grad_(True)
    sil2 = r.rasterize(fv)
    (sil2 * weight).sum().backward()
    return [_digest(sil), _digest(vv.grad), _digest(sil2), _digest(fv.grad)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--quick", action="store_true", help="one setting only")
    args = parser.parse_args(argv)
    gen = torch.Generator().manual_seed(0)
    grid = [(64, torch.float32, 3e-5)] if args.quick else \
        [(s, d, g) for s in SIZES for d in DTYPES for g in SIGMAS]
    out = {f"{s}-{str(d).removeprefix('torch.')}-{g:g}": digests(s, d, g, gen)
           for s, d, g in grid}
    write_json(args.out, out, indent=1)  # temp-and-rename
    print(f"{len(out)} settings -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
