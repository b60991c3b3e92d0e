"""The training step's speed settings (issue 22): ``ReconConfig.autocast`` and
``ReconConfig.channels_last`` are validated by name, off by default and on only in the
``cpu`` preset, change nothing when off, and when on give a step close to the float32 one with
float32 vertices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_softras.experiments.losses import mesh_topology
from bench_softras.experiments.model import flatten_chw
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


def _flatten_grads(flatten, base, weight):
    """Input, batch-norm weight and bias gradients of ``flatten(relu(norm(x)))`` for a
    channels-last ``x``, and the gradient the ReLU's output received."""
    x = base.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    norm = torch.nn.BatchNorm2d(base.shape[1]).to(base.dtype)
    y = torch.relu(norm(x))
    out = flatten(y)
    assert torch.equal(out, y.flatten(1))
    seen = []
    y.register_hook(seen.append)  # after flatten's own hook: sees what it hands on
    (out * weight).sum().backward()
    return (x.grad, norm.weight.grad, norm.bias.grad), seen[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_flatten_chw_hands_back_a_channels_last_gradient_with_the_same_values(dtype):
    """``flatten_chw`` is ``flatten(1)`` forward; backward, a channels-last input gets
    its gradient channels-last, with the values ``flatten(1)``'s backward gives, and so
    do the ReLU and batch norm before it (bit for bit)."""
    gen = torch.Generator().manual_seed(2)
    base = torch.randn(3, 5, 4, 4, generator=gen).to(dtype)
    weight = torch.randn(3, 5 * 16, generator=gen).to(dtype)
    old, old_seen = _flatten_grads(lambda t: t.flatten(1), base, weight)
    new, new_seen = _flatten_grads(flatten_chw, base, weight)
    assert old_seen.is_contiguous() and not old_seen.is_contiguous(
        memory_format=torch.channels_last)
    assert new_seen.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(old_seen, new_seen)
    for a, b in zip(old, new, strict=True):
        assert torch.equal(a, b)


def test_flatten_chw_leaves_row_major_and_gradient_free_inputs_alone():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    flatten_chw(x).sum().backward()
    assert x.grad.is_contiguous()
    y = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    assert torch.equal(flatten_chw(y), y.flatten(1))
