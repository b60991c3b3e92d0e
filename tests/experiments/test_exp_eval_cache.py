"""Saved evaluations are read back only when whole; ``force`` evaluates again."""

from __future__ import annotations

import logging

import pytest

import bench_softras.experiments.evaluate as ev
from bench_softras.settings import SMOKE, with_overrides


@pytest.fixture
def recon(tiny_data_dir, tmp_path, template, monkeypatch):
    """``run(force=False) -> (table, evaluations done)`` on a 1-step ``hard`` run."""
    calls = []
    real = ev.evaluate
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    config = with_overrides(SMOKE.recon, image_size=16, batch_size=2, iterations=1)
    out = tmp_path / "recon"

    def run(force: bool = False):
        calls.clear()
        df = ev.run_reconstruction(SMOKE, ["hard"], tiny_data_dir, out, seeds=[0],
                                   config=config, template=template, progress=False,
                                   force=force)
        return df, len(calls)

    first, n = run()
    assert n == 1
    (saved,) = (out / "hard" / "seed_0").glob("eval_*.csv")
    return run, saved, first


def _rows(df):
    return df[df.renderer == "hard"].sort_values("class_id")["voxel_iou"].tolist()


@pytest.mark.parametrize("damage", ["zero_bytes", "cut_short", "garbage"])
def test_damaged_saved_evaluation_is_redone(recon, damage, caplog):
    run, saved, first = recon
    text = saved.read_text()
    if damage == "zero_bytes":
        saved.write_bytes(b"")
    elif damage == "cut_short":  # the last class's row lost: it would drop out of the mean
        saved.write_text("".join(text.splitlines(keepends=True)[:-1]))
    else:
        saved.write_bytes(b"\x00" * 64)
    with caplog.at_level(logging.WARNING):
        df, n = run()
    assert n == 1 and "evaluating again" in caplog.text
    assert _rows(df) == pytest.approx(_rows(first))
    assert len(saved.read_text().splitlines()) == len(text.splitlines())  # whole again


def test_whole_saved_evaluation_is_reused_and_force_redoes_it(recon, caplog):
    run, _, first = recon
    assert run()[1] == 0
    with caplog.at_level(logging.INFO):
        df, n = run(force=True)
    assert n == 1 and "--force: evaluating again" in caplog.text
    assert _rows(df) == pytest.approx(_rows(first))
