"""A timing worker for side-by-side runs of two versions of the code
(``benchmarks/targets.py``: today's code against an older commit exported into a
temporary folder).  It imports whichever ``renderers`` / ``bench_softras`` comes first
on ``sys.path`` (``PYTHONPATH``), so it uses only APIs that both versions have, and
checks that they were imported from ``--root``.

Tasks (``--task``):

* ``softras``: forward+backward of ``softras`` at the paper setting (the template sphere
  of ``--scene``, a ``.npz`` with ``vertices`` [V, 3] float32, ``faces`` [F, 3] int64
  and ``views`` [B] int64; ``--image`` pixels square; sigma ``--sigma``; a fixed
  weighted sum's backward);
* ``step``: one ``cpu``-preset training step
  (:func:`bench_softras.experiments.train.train_step`, set up by
  :func:`bench_softras.studies.step_split.setup_step`, silhouette-only) on the data set
  in ``--data-dir``.

Protocol: after two untimed warm-up calls (Taichi compiles) the worker writes one JSON
line ``{"ready": true, "module": <path>}`` to its original standard output (everything
else that writes to standard output, Taichi's banner included, goes to standard error);
then for every line ``N`` read from standard input it times ``N`` calls and writes
``{"times": [seconds, ...]}``; ``quit`` or end of input ends it.  A failure writes
``{"error": "..."}`` and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _softras_call(scene: Path, sigma: float, image: int):
    """fwd+bwd of ``softras`` as a no-argument function (either renderer API)."""
    import numpy as np
    import torch

    import renderers

    data = np.load(scene)
    views = torch.as_tensor(data["views"])
    verts = torch.as_tensor(data["vertices"])[None].expand(len(views), -1, -1).contiguous()
    faces = torch.as_tensor(data["faces"])
    cam = renderers.Camera.benchmark(views)
    if hasattr(renderers, "build"):
        r = renderers.build("softras", image_size=image, sharpness=sigma)
    else:  # the first kernels (8e443d0): get(name, **options)
        r = renderers.get("softras", image_size=image, sigma=sigma)
    weight = torch.rand(len(views), image, image, generator=torch.Generator().manual_seed(0))

    def call() -> None:
        v = verts.clone().requires_grad_(True)
        (r.render(v, faces, cam) * weight).sum().backward()

    return call, renderers.__file__


def _step_call(data_dir: str):
    """One ``cpu``-preset training step as a no-argument function."""
    import bench_softras
    from bench_softras.experiments.train import train_step
    from bench_softras.settings import CPU
    from bench_softras.studies.step_split import StepSplitConfig, setup_step

    args = setup_step(StepSplitConfig(preset="cpu", renderer="softras", data_dir=data_dir),
                      CPU.recon)
    return (lambda: train_step(*args)), bench_softras.__file__


def _serve(call, out) -> None:
    for line in sys.stdin:
        line = line.strip()
        if line in ("", "quit"):
            break
        times = []
        for _ in range(int(line)):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"times": times}), file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=("softras", "step"), required=True)
    p.add_argument("--root", type=Path, required=True,
                   help="the folder the code must be imported from")
    p.add_argument("--scene", type=Path)
    p.add_argument("--sigma", type=float, help="softras's sigma")
    p.add_argument("--image", type=int, help="image side, pixels")
    p.add_argument("--data-dir", default="")
    args = p.parse_args(argv)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to standard error
    try:
        if args.task == "softras":
            call, module = _softras_call(args.scene, args.sigma, args.image)
        else:
            call, module = _step_call(args.data_dir)
        if not Path(module).resolve().is_relative_to(args.root.resolve()):
            raise RuntimeError(f"imported {module}, not the code under {args.root}")
        for _ in range(2):
            call()
        print(json.dumps({"ready": True, "module": module}), file=out, flush=True)
        _serve(call, out)
    except Exception as exc:  # reported to the parent, which names the commit
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), file=out, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
