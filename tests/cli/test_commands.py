"""The ``main(argv)`` entry points the ``softras-bench`` CLI dispatches to."""

from __future__ import annotations

import pandas as pd

from bench_softras.commands import evaluate
from bench_softras.commands import fit as fitting
from bench_softras.experiments.train import train


def test_fit_main(tmp_path, capsys, tiny_data_dir):
    rc = fitting.main(["--preset", "smoke", "--shapes", "cube", "--renderers", "hard",
                       "--steps", "1", "--record-every", "1", "--out-dir", str(tmp_path),
                       "--data-dir", str(tiny_data_dir), "--no-progress"])
    assert rc == 0
    df = pd.read_csv(tmp_path / "fitting.csv")
    assert df["step"].tolist() == [0, 1] and (df["preset"] == "smoke").all()
    assert set(df["shape"]) == {"cube"}  # named shapes only: --per-category defaults to 0
    assert "voxel_iou" in capsys.readouterr().out


def test_fit_main_takes_targets_from_the_data_dir(tmp_path, tiny_data_dir):
    rc = fitting.main(["--preset", "smoke", "--data-dir", str(tiny_data_dir),
                       "--per-category", "2", "--no-tune", "--renderers", "n3mr",
                       "--steps", "1", "--out-dir", str(tmp_path), "--no-progress"])
    assert rc == 0
    df = pd.read_csv(tmp_path / "fitting.csv")
    assert set(df["shape"]) == {"box_0", "box_1", "ball_0", "ball_1"}
    assert set(df["category"]) == {"box", "ball"}
    choices = pd.read_csv(tmp_path / "fit_choices.csv")
    assert choices["chosen_by"].str.contains("no tuning targets").all()


def test_evaluate_main_on_a_checkpoint(make_config, tiny_data, tiny_data_dir, template,
                                       tmp_path, capsys):
    ckpt = train(make_config(iterations=1), tiny_data, template=template, progress=False)
    out = tmp_path / "tables"
    rc = evaluate.main(["--preset", "smoke", "--data-dir", str(tiny_data_dir),
                        "--checkpoint", str(ckpt), "--out-dir", str(out), "--no-progress"])
    assert rc == 0
    df = pd.read_csv(out / "recon_iou.csv")
    assert sorted(df["renderer"].unique()) == ["softras_torch", "template"]
    assert "mean" in capsys.readouterr().out
