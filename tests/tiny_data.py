"""A tiny multi-view data set for the experiment tests: boxes and spheres rendered by
the exact ``hard`` renderer (a module of its own, so test files import it by a name no
other test folder's ``conftest`` shadows)."""

from __future__ import annotations

import numpy as np
import torch

import metrics
from bench_softras.data import MultiViewData
from bench_softras.data.layout import NUM_VIEWS
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.settings import ModelConfig
from metrics.meshes import box_mesh, template_sphere
from renderers import Camera

#: The smallest generator of the tests (also the tests' ``conftest`` default).
TINY_MODEL = ModelConfig(conv_channels=4, fc_hidden=32, latent=16, decoder_hidden=(32, 64))


def make_tiny_data(image_size: int = 32, per_class: int = 2, seed: int = 0) -> MultiViewData:
    """Two classes ('box', 'ball') of ``per_class`` objects each, 24 hard-rendered views."""
    rng = np.random.default_rng(seed)
    hard = make_renderer("hard", image_size)
    cam = Camera.benchmark()
    sv, sf = template_sphere(subdivisions=2)
    images, voxels, classes = [], [], []
    for cls in ("box", "ball"):
        for _ in range(per_class):
            if cls == "box":
                half = rng.uniform(0.1, 0.35, size=3)
                v, f = box_mesh(-half, half)
            else:
                v, f = sv * rng.uniform(0.3, 0.45, size=3), sf
            vt = torch.as_tensor(v, dtype=torch.float32)
            with torch.no_grad():
                alpha = hard.render(vt.expand(NUM_VIEWS, -1, -1), torch.as_tensor(f), cam)
            color = torch.as_tensor(rng.uniform(0.2, 0.9, size=3), dtype=torch.float32)
            rgba = torch.cat([alpha[:, None] * color[None, :, None, None], alpha[:, None]], 1)
            images.append((rgba.numpy() * 255).round().astype(np.uint8))
            voxels.append(metrics.voxelize(v, f))
            classes.append(cls)
    return MultiViewData(np.stack(images), np.stack(voxels), np.array(classes))
