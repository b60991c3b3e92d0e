"""Resuming survives damaged run state: a cut-off metrics line, a truncated latest
checkpoint; checkpoints are pruned to ``keep_checkpoints`` while a run trains (to the
final one once it has finished: test_exp_checkpoint_pruning.py) and also written by
wall time."""

from __future__ import annotations

import json
import logging

import torch

from bench_softras.experiments.resume import checkpoints, read_metrics
from bench_softras.experiments.train import train


def _steps(run_dir) -> list[int]:
    return [int(p.stem.split("_")[1]) for p in checkpoints(run_dir)]


def test_cut_off_metrics_line_is_skipped_with_a_warning(make_config, tiny_data, template,
                                                        caplog):
    config = make_config(iterations=4)
    train(config, tiny_data, template=template, stop_after=2, progress=False)
    metrics = f"{config.out_dir}/metrics.jsonl"
    with open(metrics, "a") as fh:  # a kill in the middle of writing step 3's line
        fh.write('{"step": 3, "loss": 0.4')
    with caplog.at_level(logging.WARNING):
        final = train(config, tiny_data, template=template, progress=False)
    assert torch.load(final, weights_only=False)["step"] == 4
    assert "metrics.jsonl: line 3 is not a JSON record" in caplog.text
    records = [json.loads(line) for line in open(metrics)]  # every line parses again
    assert [r["step"] for r in records] == [1, 2, 3, 4]


def test_truncated_latest_checkpoint_falls_back_to_the_previous(make_config, tiny_data,
                                                                template, caplog):
    straight = make_config(out_dir=str(make_config().out_dir) + "_straight", iterations=4,
                           checkpoint_every=1)
    config = make_config(iterations=4, checkpoint_every=1)
    full = train(straight, tiny_data, template=template, progress=False)
    train(config, tiny_data, template=template, stop_after=3, progress=False)
    assert _steps(config.out_dir) == [2, 3]
    latest = checkpoints(config.out_dir)[-1]
    latest.write_bytes(latest.read_bytes()[:1000])  # cut short by a full disk, say
    with caplog.at_level(logging.WARNING):
        final = train(config, tiny_data, template=template, progress=False)
    assert "skipped damaged checkpoint" in caplog.text and "step_0000003.pt" in caplog.text
    assert (latest.parent / "step_0000003.pt.corrupt").exists()
    a, b = torch.load(full, weights_only=False), torch.load(final, weights_only=False)
    assert b["step"] == 4
    for k in a["model"]:  # resumed from step 2: still the uninterrupted run's weights
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_keep_checkpoints_bounds_what_stays_on_disk(make_config, tiny_data, template):
    config = make_config(iterations=4, checkpoint_every=1, keep_checkpoints=1)
    train(config, tiny_data, template=template, progress=False)
    assert _steps(config.out_dir) == [4]


def test_checkpoints_are_also_written_by_wall_time(make_config, tiny_data, template):
    # checkpoint_every far beyond the run: only the wall clock (due at once) triggers;
    # the run stops before its last step, so every checkpoint it wrote stays
    config = make_config(iterations=4, checkpoint_every=1000, checkpoint_minutes=1e-9,
                         keep_checkpoints=5)
    train(config, tiny_data, template=template, stop_after=3, progress=False)
    assert _steps(config.out_dir) == [1, 2, 3]
    plain = make_config(out_dir=str(make_config().out_dir) + "_steps", iterations=4,
                        checkpoint_every=1000, keep_checkpoints=5)
    train(plain, tiny_data, template=template, stop_after=3, progress=False)
    assert _steps(plain.out_dir) == [3]


def test_read_metrics_skips_garbage_lines(tmp_path, caplog):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 1}\n\x00\x00\x00\n[1, 2]\n{"step": 2}\n{"st')
    with caplog.at_level(logging.WARNING):
        assert [r["step"] for r in read_metrics(p)] == [1, 2]
    assert caplog.text.count("is not a JSON record") == 3
