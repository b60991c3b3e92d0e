"""The training step's speed settings (issue 22): ``ReconConfig.autocast`` and
``ReconConfig.channels_last`` are validated by name, off by default and on only in the
``cpu`` preset, change nothing when off, and when on give a step close to the float32 one with
float32 vertices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_softras.experiments.losses import mesh_topology
from bench_softras.experiments.multiview import training_views
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.experiments.train import build_model, generator_forward, train_step
from bench_softras.settings import PRESETS, ReconConfig

#: The presets that train the generator in bfloat16, channels-last (docs/performance.md,
#: "bfloat16 generator": measured to leave the test IoU unchanged on the ``cpu`` preset).
FAST_PRESETS = {"cpu"}


def test_speed_settings_are_off_by_default_and_on_only_in_the_measured_presets():
    assert ReconConfig().autocast == "off" and ReconConfig().channels_last is False
    for name, preset in PRESETS.items():
        fast = name in FAST_PRESETS
        assert preset.recon.autocast == ("bf16" if fast else "off"), name
        assert preset.recon.channels_last is fast, name


def test_bad_speed_settings_are_named(make_config):
    with pytest.raises(ValueError, match=r"autocast='fp16' \(one of \('off', 'bf16'\)\)"):
        make_config(autocast="fp16")
    with pytest.raises(ValueError, match="channels_last"):
        make_config(channels_last="yes")


def _vertices(config, template, images):
    model = build_model(config, template)
    model.train()
    return model, generator_forward(model, images, config)


@pytest.mark.parametrize("setting", [{"autocast": "bf16"}, {"channels_last": True},
                                     {"autocast": "bf16", "channels_last": True}])
def test_fast_generator_is_close_to_the_float32_one(make_config, template, setting):
    base = make_config()
    images = torch.rand(4, 4, base.image_size, base.image_size,
                        generator=torch.Generator().manual_seed(0))
    _, ref = _vertices(base, template, images)
    model, fast = _vertices(make_config(**setting), template, images)
    assert fast.dtype == torch.float32
    tol = 2e-2 if "autocast" in setting else 1e-5  # world units (the cube is 1 wide)
    assert float((fast - ref).detach().abs().max()) < tol
    if setting.get("channels_last"):
        conv = model.encoder.convs[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last)
    fast.square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_settings_off_change_no_bit(make_config, template):
    """``generator_forward`` with both settings off is the plain ``model(images)``."""
    config = make_config()
    images = torch.rand(2, 4, config.image_size, config.image_size,
                        generator=torch.Generator().manual_seed(1))
    model = build_model(config, template)
    assert torch.equal(generator_forward(model, images, config), model(images))


def test_bf16_step_trains(make_config, tiny_data, template):
    config = make_config(lr=1e-3, autocast="bf16", channels_last=True)
    model = build_model(config, template)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    terms = train_step(model, opt, make_renderer("softras", config.image_size, config.sigma),
                       mesh_topology(model.faces), tiny_data, np.random.default_rng(0),
                       config, config.batch_size, training_views(24), model.faces, "cpu")
    assert all(np.isfinite(v) for v in terms.values())
