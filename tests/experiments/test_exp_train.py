"""Training: one step, renderer independence, checkpoints and resumption."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench_softras.experiments.losses import mesh_topology
from bench_softras.experiments.multiview import training_views
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.experiments.train import (
    build_model,
    decay,
    latest_checkpoint,
    load_generator,
    lr_factor,
    train,
    train_step,
)


def _step(config, data, template, renderer_name):
    model = build_model(config, template)
    model.train()
    before = {k: v.clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    terms = train_step(model, opt, make_renderer(renderer_name, config.image_size, config.sigma),
                       mesh_topology(model.faces), data, np.random.default_rng(0), config,
                       config.batch_size, training_views(24), model.faces, "cpu")
    return model, before, terms


def test_one_step_is_finite_and_moves_every_parameter(make_config, tiny_data, template):
    config = make_config(lr=1e-3)
    model, before, terms = _step(config, tiny_data, template, "softras_torch")
    assert set(terms) == {"loss", "iou", "laplacian", "flatten"}
    assert all(np.isfinite(v) for v in terms.values())
    assert 0.0 <= terms["iou"] <= 1.0
    for name, p in model.named_parameters():
        assert torch.isfinite(p).all(), name
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert not torch.equal(p, before[name]), f"{name} did not move"


def test_colour_step_trains_the_colour_head(make_config, tiny_data, template):
    config = make_config(lr=1e-3, color_weight=1.0)
    model, before, terms = _step(config, tiny_data, template, "softras_torch")
    assert set(terms) == {"loss", "iou", "laplacian", "flatten", "color_l2"}
    assert np.isfinite(terms["color_l2"]) and terms["color_l2"] > 0
    head = model.decoder.fc_color
    assert head is not None and not torch.equal(head.weight, before["decoder.fc_color.weight"])
    imgs = torch.rand(3, 4, config.image_size, config.image_size)
    verts, colors = model.eval()(imgs, with_colors=True)
    assert verts.shape == colors.shape == (3, template[0].shape[0], 3)
    assert colors.min() >= 0 and colors.max() <= 1
    plain = build_model(make_config(), template)
    assert plain.decoder.fc_color is None
    with pytest.raises(ValueError, match="colour head"):
        plain(imgs, with_colors=True)
    with pytest.raises(ValueError, match="color_weight"):
        make_config(color_weight=-1.0)


def test_colours_are_learnt_while_the_geometry_is_frozen(make_config, tiny_data, template):
    """With ``hard`` the geometry gets no gradient, so the fall of the colour loss on a
    fixed batch is the colour head learning the colours from the l2 image loss."""
    config = make_config(renderer="hard", lr=3e-2, batch_size=4, use_laplacian=False,
                         use_flatten=False, color_weight=1.0)
    model = build_model(config, template)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    renderer = make_renderer("hard", config.image_size)
    topo = mesh_topology(model.faces)
    l2 = [train_step(model, opt, renderer, topo, tiny_data, np.random.default_rng(0), config,
                     config.batch_size, training_views(24), model.faces, "cpu")["color_l2"]
          for _ in range(25)]
    assert max(l2[-5:]) < 0.6 * l2[0]


def test_checkpoints_from_before_a_new_config_field_still_resume(make_config, tiny_data,
                                                                  template):
    config = make_config(iterations=1)
    path = train(config, tiny_data, template=template, progress=False)
    state = torch.load(path, weights_only=False)
    del state["config"]["color_weight"]  # written before the field existed
    torch.save(state, path)
    longer = make_config(iterations=2)
    assert torch.load(train(longer, tiny_data, template=template, progress=False),
                      weights_only=False)["step"] == 2


def test_hard_renderer_gives_no_gradient_to_the_generator(make_config, tiny_data, template):
    config = make_config(use_laplacian=False, use_flatten=False)
    model, before, terms = _step(config, tiny_data, template, "hard")
    assert np.isfinite(terms["loss"])
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), f"{name} moved without a gradient"


def test_resume_continues_at_the_right_step_and_matches(make_config, tiny_data, template):
    straight = make_config(out_dir=str(make_config().out_dir) + "_straight")
    resumed = make_config(out_dir=str(make_config().out_dir) + "_resumed")
    full = train(straight, tiny_data, template=template, progress=False)
    part = train(resumed, tiny_data, template=template, stop_after=3, progress=False)
    assert torch.load(part, weights_only=False)["step"] == 3
    # a step logged but not checkpointed before an interruption is redone and relogged
    with open(f"{resumed.out_dir}/metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"step": 4, "loss": 99.0}) + "\n")
    final = train(resumed, tiny_data, template=template, progress=False)
    a, b = torch.load(full, weights_only=False), torch.load(final, weights_only=False)
    assert a["step"] == b["step"] == straight.iterations
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    records = [json.loads(line) for line in open(f"{resumed.out_dir}/metrics.jsonl")]
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # the second call began at step 4
    assert records[-1]["loss"] != 99.0
    log = open(f"{resumed.out_dir}/train.log").read()
    assert '"resumed_from"' in log and "step_0000003.pt" in log
    header = json.load(open(f"{resumed.out_dir}/config.json"))
    assert header["config"]["batch_size"] == resumed.batch_size
    # a finished run re-run is a no-op returning the final checkpoint
    assert train(resumed, tiny_data, template=template, progress=False) == final


def test_resume_refuses_a_different_configuration(make_config, tiny_data, template):
    config = make_config(iterations=1)
    train(config, tiny_data, template=template, progress=False)
    changed = make_config(iterations=1, lambda_flatten=0.5)
    with pytest.raises(ValueError, match="lambda_flatten"):
        train(changed, tiny_data, template=template, progress=False)
    # more iterations is a legitimate continuation
    longer = make_config(iterations=2)
    path = train(longer, tiny_data, template=template, progress=False)
    assert torch.load(path, weights_only=False)["step"] == 2
    assert latest_checkpoint(longer.out_dir) == path


def test_load_generator_restores_the_trained_model(make_config, tiny_data, template):
    config = make_config(iterations=1)
    path = train(config, tiny_data, template=template, progress=False)
    model, cfg = load_generator(path, template)
    assert cfg == config and not model.training
    state = torch.load(path, weights_only=False)["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_bad_configuration_is_rejected(make_config):
    with pytest.raises(ValueError, match="batch_size"):
        make_config(batch_size=0)
    with pytest.raises(ValueError, match="multiple of 8"):
        make_config(image_size=20)
    with pytest.raises(TypeError, match="renderer"):
        make_config(renderer=None)


def test_unknown_renderer_is_named(make_config, tiny_data, template):
    with pytest.raises(KeyError, match="no_such_renderer"):
        train(make_config(renderer="no_such_renderer"), tiny_data, template=template,
              progress=False)


def test_cosine_schedule_anneals_the_logged_lr_and_steps_sigma(make_config, tiny_data,
                                                               template):
    config = make_config(iterations=4, lr=1e-3, lr_schedule="cosine", lr_decay_at=2,
                         decay_factor=0.5)
    train(config, tiny_data, template=template, progress=False)
    records = [json.loads(line) for line in open(f"{config.out_dir}/metrics.jsonl")]
    # the record of step s (1-based) carries the lr and sigma used for 0-based step s-1
    lrs = [r["lr"] for r in records]
    np.testing.assert_allclose(lrs, [1e-3 * (1 + np.cos(np.pi * s / 4)) / 2
                                     for s in range(4)], rtol=1e-12)
    assert lrs[0] == 1e-3 and lrs == sorted(lrs, reverse=True)
    assert [r["sigma"] for r in records] == [1e-3, 1e-3, 5e-4, 5e-4]


def test_step_schedule_multiplies_lr_and_sigma_together(make_config):
    config = make_config(iterations=10, lr_decay_at=6, decay_factor=0.3)
    assert [lr_factor(config, s) for s in (0, 5, 6, 9)] == [1.0, 1.0, 0.3, 0.3]
    assert [decay(config, s) for s in (0, 5, 6, 9)] == [1.0, 1.0, 0.3, 0.3]
    cosine = make_config(iterations=10, lr_decay_at=6, lr_schedule="cosine")
    assert lr_factor(cosine, 0) == 1.0 and lr_factor(cosine, 10) < 1e-15
    assert lr_factor(cosine, 5) == pytest.approx(0.5)
    assert decay(cosine, 5) == 1.0 and decay(cosine, 6) == 0.3


def test_a_cosine_run_refuses_to_be_extended(make_config, tiny_data, template):
    config = make_config(iterations=1, lr_schedule="cosine")
    train(config, tiny_data, template=template, progress=False)
    with pytest.raises(ValueError, match=r"'iterations'\] differ \(lr_schedule='cosine' "
                                         r"anneals over `iterations`"):
        train(make_config(iterations=2, lr_schedule="cosine"), tiny_data,
              template=template, progress=False)


def test_unknown_lr_schedule_is_named_with_the_choices(make_config):
    with pytest.raises(ValueError, match=r"lr_schedule='linear' \(one of \('step', "
                                         r"'cosine'\)\)"):
        make_config(lr_schedule="linear")
