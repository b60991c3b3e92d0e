"""Checkpoints are data, never code (issue 20): every load is weights only, so a pickle
planted in a results directory (one whose unpickling would run something) is refused in
one line naming the file and never runs, wherever a checkpoint is read (resume,
evaluate, the examples stage, load_generator); a garbage file or one without
``config`` is one line, exit 2 in the CLI; a full disk during a save names the file."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from bench_softras import atomic, cli
from bench_softras.experiments.resume import CheckpointError, checkpoints, load_checkpoint
from bench_softras.experiments.train import load_generator, train
from bench_softras.runs import write_stage_record
from bench_softras.stages.examples import run_examples


class Planted:
    """An object whose unpickling creates ``marker`` (a stand-in for running a shell
    command: ``pickle`` calls what ``__reduce__`` names)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _plant(path: Path, marker: Path) -> Path:
    """A file that looks like a training checkpoint, with the payload in ``config``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "optimizer": {}, "step": 9999999, "numpy_rng": [],
                "torch_rng": torch.zeros(1), "config": Planted(marker)}, path)
    return path


def test_planted_pickle_is_refused_unread(tmp_path):
    marker = tmp_path / "marker"
    path = _plant(tmp_path / "step_9999999.pt", marker)
    for load in (load_checkpoint, load_generator):
        with pytest.raises(CheckpointError) as exc:
            load(path)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)
        assert "could run code" in str(exc.value)
    assert not marker.exists()


def test_resume_moves_a_planted_checkpoint_aside(make_config, tiny_data, template, tmp_path,
                                                 caplog):
    marker = tmp_path / "marker"
    config = make_config(iterations=2, checkpoint_every=2)
    train(config, tiny_data, template=template, progress=False)
    planted = _plant(Path(config.out_dir) / "checkpoints" / "step_9999999.pt", marker)
    longer = make_config(iterations=4, checkpoint_every=2)
    with caplog.at_level(logging.WARNING):
        final = train(longer, tiny_data, template=template, progress=False)
    assert not marker.exists()
    assert "skipped damaged checkpoint" in caplog.text and planted.name in caplog.text
    assert planted.with_name(planted.name + ".corrupt").exists() and not planted.exists()
    assert load_checkpoint(final)["step"] == 4  # resumed from step 2, weights only


def test_examples_stage_does_not_run_a_planted_checkpoint(tmp_path, tiny_data_dir):
    """The reported attack: a pickle planted as the newest checkpoint of a run, then
    ``report --stages examples --force``."""
    marker = tmp_path / "marker"
    run = tmp_path / "results" / "run1"
    recon = run / "reconstruction"
    _plant(recon / "softras" / "seed_0" / "checkpoints" / "step_9999999.pt", marker)
    write_stage_record(run, "reconstruction", {
        "renderers": ["softras"], "seeds": [0],
        "recon": {"data_dir": str(tiny_data_dir), "eval_split": "test",
                  "class_ids": [], "device": "cpu"}}, 1.0, [])
    with pytest.raises(CheckpointError, match="step_9999999.pt"):
        run_examples(run, run / "examples")
    assert not marker.exists()


def _garbage(path: Path) -> Path:
    path.write_bytes(os.urandom(2048))
    return path


def _no_config(path: Path) -> Path:
    torch.save({"model": {"w": torch.zeros(2)}}, path)
    return path


def _wrong_weights(path: Path) -> Path:
    torch.save({"model": {"w": torch.zeros(2)}, "config": {"image_size": 16}}, path)
    return path


@pytest.mark.parametrize("make", [_garbage, _no_config, _wrong_weights, _plant])
def test_evaluate_refuses_a_bad_checkpoint_in_one_line(make, tmp_path, tiny_data_dir,
                                                       capsys):
    marker = tmp_path / "marker"
    bad = tmp_path / "bad.pt"
    make(bad, marker) if make is _plant else make(bad)
    code = cli.main(["evaluate", "--preset", "smoke", "--data-dir", str(tiny_data_dir),
                     "--checkpoint", str(bad), "--out-dir", str(tmp_path / "o"),
                     "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err, err
    assert err.startswith("softras-bench evaluate: error:") and str(bad) in err, err
    assert not marker.exists()


def test_checkpoints_hold_plain_data_only(make_config, tiny_data, template, tmp_path):
    """Saved state loads weights only, even with a numpy-typed config value (numpy
    scalars are objects a weights-only load refuses)."""
    config = make_config(iterations=1, sigma=np.float64(1e-3))
    ckpt = train(config, tiny_data, template=template, progress=False)
    state = torch.load(ckpt, weights_only=True)
    assert type(state["config"]["sigma"]) is float and state["config"]["sigma"] == 1e-3
    model, cfg = load_generator(ckpt, template)
    assert cfg.image_size == config.image_size and not model.training


def test_full_disk_during_a_checkpoint_save_names_it(make_config, tiny_data, template,
                                                     monkeypatch):
    config = make_config(iterations=2, checkpoint_every=2)

    fsync = os.fsync

    def full(fd):  # the disk fills up while a checkpoint is written
        if ".step_" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(atomic.WriteError) as exc:
        train(config, tiny_data, template=template, progress=False)
    text = str(exc.value)
    assert "step_0000002.pt" in text and "no space left on device" in text
    assert "\n" not in text
    monkeypatch.undo()
    assert checkpoints(config.out_dir) == []  # nothing half-written
    assert not list((Path(config.out_dir) / "checkpoints").glob(".*tmp"))

