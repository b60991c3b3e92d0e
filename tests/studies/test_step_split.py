"""The training-step split (bench_softras.studies.step_split): the split step updates
the parameters exactly as train_step does, and the study's table adds up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_softras.experiments.losses import mesh_topology
from bench_softras.experiments.multiview import training_views
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.experiments.train import build_model, train_step
from bench_softras.settings import SMOKE
from bench_softras.studies import step_split
from bench_softras.studies.step_split import GROUPS, PARTS, StepSplitConfig, split_step


def _one_step(step_fn, config, data, template):
    model = build_model(config, template)
    topo = mesh_topology(model.faces, model.decoder.num_vertices)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    renderer = make_renderer(config.renderer, config.image_size, config.sigma)
    out = step_fn(model, opt, renderer, topo, data, np.random.default_rng(3), config,
                  config.batch_size, training_views(24), model.faces, "cpu")
    return model, opt, out


@pytest.mark.parametrize("name", ["softras", "softras_torch"])
def test_split_step_updates_the_parameters_as_train_step(make_config, tiny_data, template,
                                                         name):
    config = make_config(renderer=name, lr=1e-3)
    ref, _, _ = _one_step(train_step, config, tiny_data, template)
    got, opt, times = _one_step(split_step, config, tiny_data, template)
    assert set(times) == set(PARTS)
    assert all(t >= 0 for t in times.values())
    for (n, a), (_, b) in zip(ref.named_parameters(), got.named_parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-7, msg=n)
        # Adam's first step is about lr * sign(grad): parameters whose gradient is
        # rounding noise (a conv bias before batch norm) may step either way, so the
        # gradients above are the check; here, that the optimizer stepped once.
        assert int(opt.state[b]["step"]) == 1, n


def test_split_step_refuses_colour_configs(make_config, tiny_data, template):
    config = make_config(color_weight=1.0)
    with pytest.raises(ValueError, match="color_weight"):
        _one_step(split_step, config, tiny_data, template)


def test_study_table_adds_up(tmp_path, tiny_data_dir):
    cfg = StepSplitConfig(preset="smoke", renderer="softras", steps=2, warmup=0,
                          data_dir=str(tiny_data_dir))
    df = step_split.run_step_split(cfg, SMOKE.recon, tmp_path)
    assert (tmp_path / "step_split.csv").is_file()
    parts = df[df["kind"] == "part"].set_index("item")["time_s"]
    groups = df[df["kind"] == "group"].set_index("item")["time_s"]
    assert list(parts.index) == list(PARTS) and list(groups.index) == list(GROUPS)
    for g, members in GROUPS.items():
        assert groups[g] == pytest.approx(sum(parts[p] for p in members))
    assert (df["time_s"] > 0).all()
    text = step_split.format_split(df)
    assert "renderer share" in text


def test_bad_step_count_is_one_clear_line():
    with pytest.raises(ValueError, match="steps >= 1"):
        StepSplitConfig(steps=0)
