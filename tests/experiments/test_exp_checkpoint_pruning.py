"""A finished run keeps only its final checkpoint (what evaluation, the examples and a
resume read); a run stopped before its last step keeps ``keep_checkpoints``; the
pruning deletes nothing but the run's own checkpoint files.  And the optimizer: fused
Adam for new runs, a resumed run keeps the variant it was written with."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch

from bench_softras.experiments import train as train_module
from bench_softras.experiments.evaluate import evaluate
from bench_softras.experiments.losses import mesh_topology
from bench_softras.experiments.multiview import training_views
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.experiments.resume import (
    checkpoint_path,
    checkpoints,
    prune_finished,
)
from bench_softras.experiments.train import build_model, make_optimizer, train, train_step
from bench_softras.settings import SMOKE, with_overrides


def _steps(run_dir) -> list[int]:
    return [int(p.stem.split("_")[1]) for p in checkpoints(run_dir)]


def smoke_config(tmp_path, name: str = "run", **kw):
    """The smoke preset's reconstruction config, shrunk to the tiny data (16x16)."""
    base = dict(out_dir=str(tmp_path / name), renderer="softras_torch", image_size=16,
                batch_size=2, iterations=4, checkpoint_every=1, keep_checkpoints=3,
                val_every=0)
    return with_overrides(SMOKE.recon, **{**base, **kw})


def test_a_finished_run_keeps_only_its_final_checkpoint(tmp_path, tiny_data, template):
    config = smoke_config(tmp_path)
    final = train(config, tiny_data, template=template, progress=False)
    assert final == checkpoint_path(config.out_dir, 4) and _steps(config.out_dir) == [4]
    df = evaluate(final, tiny_data, template=template, views=[0, 12])  # still evaluates
    assert df["voxel_iou"].between(0, 1).all() and (df["renderer"] == "softras_torch").all()
    # resuming the finished run is a no-op: same file, untouched, nothing logged
    stamp, metrics = final.stat().st_mtime_ns, (final.parent.parent / "metrics.jsonl")
    logged = metrics.read_text()
    assert train(config, tiny_data, template=template, progress=False) == final
    assert final.stat().st_mtime_ns == stamp and metrics.read_text() == logged
    assert _steps(config.out_dir) == [4]


def test_an_interrupted_run_keeps_its_checkpoints_and_resumes(tmp_path, tiny_data, template,
                                                             monkeypatch):
    config = smoke_config(tmp_path)
    train(config, tiny_data, template=template, stop_after=3, progress=False)
    assert _steps(config.out_dir) == [1, 2, 3]  # stopped before the last step
    calls = {"n": 0}
    real_step = train_module.train_step

    def killed_at_the_second_step(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_step(*args, **kw)

    other = smoke_config(tmp_path, "killed")
    monkeypatch.setattr(train_module, "train_step", killed_at_the_second_step)
    with pytest.raises(KeyboardInterrupt):
        train(other, tiny_data, template=template, progress=False)
    assert _steps(other.out_dir) == [1]  # killed mid-way: nothing pruned
    monkeypatch.setattr(train_module, "train_step", real_step)
    final = train(other, tiny_data, template=template, progress=False)
    assert final == checkpoint_path(other.out_dir, 4) and _steps(other.out_dir) == [4]


def _fake_run(tmp_path, tiny_data, steps=(1, 2, 3)):
    """A run directory whose checkpoints are one real checkpoint relabelled ``steps``."""
    run = tmp_path / "fake"
    real = smoke_config(tmp_path, "real", iterations=1)
    state = torch.load(train(real, tiny_data, progress=False), weights_only=True)
    for s in steps:
        path = checkpoint_path(run, s)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({**state, "step": s}, path)
    return run


def test_pruning_touches_only_the_runs_checkpoint_files(tmp_path, tiny_data):
    run = _fake_run(tmp_path, tiny_data)
    folder = checkpoint_path(run, 0).parent
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(b"not ours")
    (folder / "step_0000000.pt").symlink_to(outside)  # a link named as a checkpoint
    keep = [folder / "step_0000002.pt.corrupt", folder / "notes.txt", folder / "step_2.pt"]
    for p in keep:
        p.write_text("x")
    deleted = prune_finished(run, checkpoint_path(run, 3), 3)
    assert sorted(p.name for p in deleted) == ["step_0000001.pt", "step_0000002.pt"]
    assert _steps(run) == [0, 3]  # the link stays, and so does its target
    assert (folder / "step_0000000.pt").is_symlink() and outside.read_bytes() == b"not ours"
    assert all(p.exists() for p in keep)
    assert checkpoints(run)[-1].name == "step_0000003.pt"  # step_2.pt is not ours


def test_nothing_is_pruned_unless_the_final_checkpoint_reads_back(tmp_path, tiny_data,
                                                                  caplog):
    run = _fake_run(tmp_path, tiny_data)
    final = checkpoint_path(run, 3)
    mislabelled = checkpoint_path(run, 4)
    mislabelled.write_bytes(final.read_bytes())  # named step 4, holds step 3
    with caplog.at_level(logging.WARNING):
        assert prune_finished(run, mislabelled, 4) == []
        assert prune_finished(run, final, 4) == []  # not the final step's file
        final.write_bytes(final.read_bytes()[:500])  # cut short
        assert prune_finished(run, final, 3) == []
    assert "holds step 3, not the final step 4" in caplog.text
    assert "is not the run's final checkpoint file" in caplog.text
    assert "did not read back" in caplog.text and _steps(run) == [1, 2, 3, 4]


def test_a_checkpoint_folder_leading_outside_the_run_is_left_alone(tmp_path, tiny_data,
                                                                  caplog):
    real_run = _fake_run(tmp_path, tiny_data)
    run = tmp_path / "linked"
    run.mkdir()
    os.symlink(checkpoint_path(real_run, 0).parent, run / "checkpoints")
    with caplog.at_level(logging.WARNING):
        assert prune_finished(run, checkpoint_path(run, 3), 3) == []
    assert "leads outside" in caplog.text and _steps(real_run) == [1, 2, 3]


def test_new_runs_use_fused_adam_and_a_resumed_run_keeps_its_variant(tmp_path, tiny_data,
                                                                     template, monkeypatch):
    model = build_model(smoke_config(tmp_path), template)
    assert make_optimizer(model, smoke_config(tmp_path)).param_groups[0]["fused"] is True
    fused = train(smoke_config(tmp_path, "fused", iterations=1), tiny_data,
                  template=template, progress=False)
    assert torch.load(fused, weights_only=True)["optimizer"]["param_groups"][0]["fused"]

    def plain(model, config):  # the optimizer of checkpoints written before fused Adam
        return torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)

    straight, resumed = smoke_config(tmp_path, "straight"), smoke_config(tmp_path, "resumed")
    monkeypatch.setattr(train_module, "make_optimizer", plain)
    reference = torch.load(train(straight, tiny_data, template=template, progress=False),
                           weights_only=True)
    train(resumed, tiny_data, template=template, stop_after=2, progress=False)
    monkeypatch.undo()  # the resumption builds a fused optimizer, then loads plain state
    got = torch.load(train(resumed, tiny_data, template=template, progress=False),
                     weights_only=True)
    assert not got["optimizer"]["param_groups"][0]["fused"]
    for k in reference["model"]:  # bit for bit the uninterrupted plain-Adam run
        assert torch.equal(reference["model"][k], got["model"][k]), k


def test_a_non_finite_loss_is_named_before_any_update(make_config, tiny_data, template):
    config = make_config(lr=1e-3)
    model = build_model(config, template)
    before = {k: v.clone() for k, v in model.named_parameters()}

    class NanRenderer:
        def render(self, vertices, faces, camera):
            real = make_renderer("softras_torch", config.image_size, config.sigma)
            return real.render(vertices, faces, camera) * float("nan")

    with pytest.raises(FloatingPointError, match=r"non-finite loss nan \(IoU loss nan, "
                                                 r"regularizers \{'laplacian': "):
        train_step(model, make_optimizer(model, config), NanRenderer(),
                   mesh_topology(model.faces), tiny_data, np.random.default_rng(0), config,
                   config.batch_size, training_views(24), model.faces, "cpu")
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), name


def test_drop_checkpoints_deletes_only_checkpoint_files_inside_the_root(tmp_path):
    from bench_softras.experiments.resume import drop_checkpoints

    run = tmp_path / "tuning" / "softras" / "lr0.0001"
    ck = run / "checkpoints"
    ck.mkdir(parents=True)
    for name in ("step_0000060.pt", "step_0000030.pt", "notes.txt", "step_1.pt"):
        (ck / name).write_bytes(b"x")
    outside = tmp_path.parent / f"{tmp_path.name}_outside.pt"
    outside.write_bytes(b"keep")
    (ck / "step_0000090.pt").symlink_to(outside)
    gone = drop_checkpoints(tmp_path, run)
    assert sorted(p.name for p in gone) == ["step_0000030.pt", "step_0000060.pt"]
    assert sorted(p.name for p in ck.iterdir()) == ["notes.txt", "step_0000090.pt",
                                                    "step_1.pt"]
    assert outside.read_bytes() == b"keep"
    # a checkpoints folder that leads outside the root: nothing is deleted
    elsewhere = tmp_path.parent / f"{tmp_path.name}_elsewhere"
    elsewhere.mkdir()
    (elsewhere / "step_0000060.pt").write_bytes(b"keep")
    run2 = tmp_path / "tuning" / "n3mr" / "lr0.0001"
    run2.mkdir(parents=True)
    (run2 / "checkpoints").symlink_to(elsewhere)
    assert drop_checkpoints(tmp_path, run2) == []
    assert (elsewhere / "step_0000060.pt").exists()
    assert drop_checkpoints(tmp_path, tmp_path.parent / "not_inside") == []
