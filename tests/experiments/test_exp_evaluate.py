"""Evaluation (voxel IoU from all 24 views) and the smoke end-to-end run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import metrics
from bench_softras.data import MultiViewData
from bench_softras.experiments.evaluate import (
    COLUMNS,
    evaluate,
    per_object_iou,
    run_reconstruction,
    summary_table,
    template_floor,
)
from bench_softras.experiments.model import Decoder
from bench_softras.experiments.train import build_model
from bench_softras.settings import SMOKE, with_overrides


def _template_generator(config, template):
    """A generator whose heads output zero deformation: it predicts the template."""
    model = build_model(config, template)
    with torch.no_grad():
        for head in (model.decoder.fc_bias, model.decoder.fc_centroid):
            head.weight.zero_()
            head.bias.zero_()
    return model.eval()


def test_floor_is_one_when_the_ground_truth_is_the_template(make_config, tiny_data, template):
    config = make_config()
    dec = Decoder(config.model, *template)
    vox = metrics.voxelize(dec.undeformed_vertices().detach().numpy(), template[1].numpy())
    n = len(tiny_data)
    data = MultiViewData(tiny_data.images, np.broadcast_to(vox, (n,) + vox.shape),
                         tiny_data.class_ids)
    floor = template_floor(data, config, template, preset="test")
    assert list(floor.columns) == COLUMNS
    assert (floor["renderer"] == "template").all() and floor["seed"].isna().all()
    assert np.allclose(floor["voxel_iou"], 1.0)


def test_a_generator_predicting_the_template_scores_the_floor(make_config, tiny_data, template):
    config = make_config()
    model = _template_generator(config, template)
    ious = per_object_iou(model, tiny_data, config.image_size, batch_size=48)
    assert ious.shape == (len(tiny_data), 24)
    got = evaluate(model, tiny_data, renderer="x", seed=3, preset="test")
    floor = template_floor(tiny_data, config, template)
    assert list(got.columns) == COLUMNS
    assert got["class_id"].tolist() == tiny_data.classes == floor["class_id"].tolist()
    assert np.allclose(got["voxel_iou"].to_numpy(), floor["voxel_iou"].to_numpy())
    assert got["n_objects"].tolist() == [2, 2] and (got["seed"] == 3).all()
    assert ((got["voxel_iou"] > 0) & (got["voxel_iou"] < 1)).all()


def test_evaluate_reads_labels_from_a_checkpoint(make_config, tiny_data, template):
    from bench_softras.experiments.train import train

    config = make_config(iterations=1, seed=7)
    ckpt = train(config, tiny_data, template=template, progress=False)
    df = evaluate(ckpt, tiny_data, template=template, views=[0, 12])
    assert (df["renderer"] == "softras_torch").all() and (df["seed"] == 7).all()
    assert (df["preset"] == "test").all()
    assert df["voxel_iou"].between(0, 1).all()


def test_summary_table_has_the_papers_layout():
    df = pd.DataFrame({
        "renderer": ["template", "template", "softras", "softras", "softras", "softras"],
        "class_id": ["a", "b"] * 3, "category": ["A", "B"] * 3,
        "seed": [None, None, 0, 0, 1, 1], "voxel_iou": [0.1, 0.3, 0.5, 0.7, 0.7, 0.9],
        "n_objects": [2] * 6, "preset": ["t"] * 6})
    wide = summary_table(df)
    assert wide.index.tolist() == ["template", "softras"]
    assert wide.loc["softras", "A"] == pytest.approx(0.6)  # mean over seeds
    assert wide.loc["template", "mean"] == pytest.approx(0.2)
    assert wide.loc["softras", "mean"] == pytest.approx(0.7)


@pytest.mark.slow
def test_smoke_end_to_end_writes_the_tables(tiny_data_dir, tmp_path, template):
    out = tmp_path / "recon"
    config = with_overrides(SMOKE.recon, image_size=16, batch_size=2)
    df = run_reconstruction(SMOKE, ["softras", "hard"], tiny_data_dir, out, seeds=[0],
                            config=config, template=template, progress=False)
    for name in ("recon_iou.csv", "recon_iou.parquet", "recon_iou_summary.csv"):
        assert (out / name).is_file(), name
    assert set(COLUMNS) <= set(df.columns)
    assert sorted(df["renderer"].unique()) == ["hard", "softras", "template"]
    assert len(df) == 3 * 2  # three rows per class: template + two renderers
    assert df["voxel_iou"].between(0, 1).all()
    back = pd.read_parquet(out / "recon_iou.parquet")
    assert back["voxel_iou"].tolist() == df["voxel_iou"].tolist()
    for name in ("softras", "hard"):
        run = out / name / "seed_0"
        assert (run / "config.json").is_file() and (run / "train.log").is_file()
        assert (run / "checkpoints" / "step_0000004.pt").is_file()
    # a second call resumes the finished runs and reads their evaluations back
    again = run_reconstruction(SMOKE, ["softras", "hard"], tiny_data_dir, out, seeds=[0],
                               config=config, template=template, progress=False)
    pd.testing.assert_frame_equal(again.drop(columns=["train_wall_s"]),
                                  df.drop(columns=["train_wall_s"]), check_dtype=False)
