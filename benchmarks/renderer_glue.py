"""Per-call cost of each renderer at the ``cpu`` preset's training step, old path vs new.

The training step (``bench_softras/experiments/train.py``) calls
``renderer.render(vertices, faces, camera)`` on ``2 * 2 * batch_size`` images of the
generator's template mesh (642 vertices, 1280 faces) at the preset's image size.  This
script times, in one process and alternating so both see the same machine, forward +
backward of

* ``old``: ``rasterize(gather_faces(camera.project(v), faces))`` (the path ``render``
  took before :meth:`renderers.Rasterizer.rasterize_mesh`), and
* ``new``: ``render(v, faces, camera)`` (which goes through ``rasterize_mesh``),

and with ``--profile`` prints cProfile's top functions of the new path (time outside the
Taichi kernels shows as torch calls and Python).  No assertion: a measuring tool.

Usage (from the repository root)::

    PYTHONPATH=$PWD python benchmarks/renderer_glue.py --threads 2 --repeats 7
    PYTHONPATH=$PWD python benchmarks/renderer_glue.py --threads 1 --renderers antialias --profile
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per path")
    p.add_argument("--renderers", default="antialias,dibr,edgegrad,n3mr,hard,softras")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--profile", action="store_true", help="cProfile the new path")
    return p.parse_args()


def _inputs(preset: str):
    """``(vertices [N, V, 3] float32 requiring grad, faces [F, 3], camera, image_size,
    sigma)`` shaped as the preset's training step renders them."""
    import torch

    from bench_softras.experiments.model import default_template
    from bench_softras.settings import get_preset
    from renderers import Camera

    recon = get_preset(preset).recon
    tv, tf = default_template()
    n = 4 * recon.batch_size  # [M_a; M_b] twice: train.py's render call
    g = torch.Generator().manual_seed(0)
    v = 0.25 * tv / tv.norm(dim=1).max() + 0.01 * torch.randn(n, *tv.shape, generator=g)
    views = torch.randint(0, 24, (n,), generator=g)
    return v.requires_grad_(True), tf, Camera.benchmark(views), recon.image_size, recon.sigma


def _step(renderer, v, faces, camera, path: str) -> None:
    """One forward + backward of the ``old`` or ``new`` path."""
    from renderers import gather_faces

    if path == "old":
        sil = renderer.rasterize(gather_faces(camera.project(v), faces))
    else:
        sil = renderer.render(v, faces, camera)
    sil.sum().backward()
    v.grad = None


def _time(renderer, v, faces, camera, repeats: int) -> dict[str, float]:
    """Median milliseconds per forward + backward of each path (alternating calls)."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    for path in times:  # warm-up (compilation, caches)
        _step(renderer, v, faces, camera, path)
    for _ in range(repeats):
        for path, acc in times.items():
            t0 = time.perf_counter()
            _step(renderer, v, faces, camera, path)
            acc.append(1e3 * (time.perf_counter() - t0))
    return {k: statistics.median(t) for k, t in times.items()}


def main() -> None:
    args = _parse()
    import renderers
    from renderers import threads

    threads.configure(args.threads)
    v, faces, camera, size, sigma = _inputs(args.preset)
    print(f"# preset {args.preset}: {tuple(v.shape)} vertices, {tuple(faces.shape)} faces, "
          f"{size}px, threads {args.threads}, load {os.getloadavg()[0]:.2f}")
    print(f"{'renderer':10s} {'old ms':>8s} {'new ms':>8s} {'new/old':>8s}")
    for name in args.renderers.split(","):
        r = renderers.build(name, image_size=size, sharpness=sigma)
        t = _time(r, v, faces, camera, args.repeats)
        print(f"{name:10s} {t['old']:8.1f} {t['new']:8.1f} {t['new'] / t['old']:8.2f}",
              flush=True)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(args.repeats):
                _step(r, v, faces, camera, "new")
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    print(f"# load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
