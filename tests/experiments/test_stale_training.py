"""Training data fingerprinted by content, not by path (issue 20, stale inputs): a run
resumes on the same data wherever it lives (another machine's cache path), and a run
whose data changed is set aside and trained afresh instead of being resumed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from tiny_data import make_tiny_data

from bench_softras.data import MultiViewData
from bench_softras.errors import ConfigError
from bench_softras.experiments.resume import DATA_FINGERPRINT_KEY, SUPERSEDED_DIR
from bench_softras.experiments.train import train


def _step(path) -> int:
    return int(torch.load(path, weights_only=False)["step"])


def test_fingerprint_is_content_not_identity(tiny_data):
    copy = MultiViewData(tiny_data.images.copy(), tiny_data.voxels.copy(),
                         tiny_data.class_ids.copy())
    assert copy.fingerprint() == tiny_data.fingerprint()
    other = make_tiny_data(seed=7)
    assert other.fingerprint() != tiny_data.fingerprint()


def test_same_data_at_another_path_resumes(make_config, tiny_data, template):
    """Machine A trained with its cache at /a; the merge on machine B sees /b."""
    first = make_config(iterations=4, data_dir="/machine_a/cache/synthetic/abc")
    ckpt = train(first, tiny_data, template=template, stop_after=2, progress=False)
    saved = torch.load(ckpt, weights_only=False)
    assert saved[DATA_FINGERPRINT_KEY] == tiny_data.fingerprint()
    moved = make_config(iterations=4, data_dir="/machine_b/.cache/synthetic/abc")
    final = train(moved, tiny_data, template=template, progress=False)  # no ConfigError
    assert _step(final) == 4
    last = json.loads(Path(moved.out_dir, "metrics.jsonl").read_text().splitlines()[-1])
    assert last["resumed_at"] == 2  # continued machine A's run


def test_other_settings_are_still_refused(make_config, tiny_data, template):
    train(make_config(iterations=4), tiny_data, template=template, stop_after=2,
          progress=False)
    with pytest.raises(ConfigError, match="lr"):
        train(make_config(iterations=4, lr=1e-2), tiny_data, template=template,
              progress=False)


def test_changed_data_sets_the_run_aside_and_trains_afresh(make_config, tiny_data,
                                                            template, caplog, tmp_path):
    config = make_config(iterations=4)
    train(config, tiny_data, template=template, progress=False)
    other = make_tiny_data(seed=3)  # the data set's files replaced in place
    with caplog.at_level(logging.WARNING):
        final = train(config, other, template=template, stop_after=1, progress=False)
    assert _step(final) == 1  # trained from step 0, not resumed at step 4
    assert torch.load(final, weights_only=False)[DATA_FINGERPRINT_KEY] == other.fingerprint()
    aside = list((tmp_path / "run" / SUPERSEDED_DIR).iterdir())
    assert len(aside) == 1 and (aside[0] / "checkpoints").is_dir()
    assert "trained on other data" in caplog.text and str(aside[0]) in caplog.text
