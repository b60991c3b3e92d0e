"""Learning curves of reconstruction training: validation records, resume, the subset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench_softras.experiments.evaluate import per_object_iou
from bench_softras.experiments.per_object import PER_OBJECT_COLUMNS, per_object_table
from bench_softras.experiments.train import build_model, train
from bench_softras.experiments.validation import (
    CURVE_FILE,
    read_curve,
    validate,
    validation_subset,
)


def test_training_records_a_validation_curve(make_config, tiny_data, template):
    cfg = make_config(val_every=2, val_views=2)
    train(cfg, tiny_data, template=template, progress=False, val_data=tiny_data)
    recs = read_curve(f"{cfg.out_dir}/{CURVE_FILE}")
    assert [r["step"] for r in recs] == [0, 2, 4]
    for r in recs:
        assert 0 <= r["val_voxel_iou"] <= 1 and 0 <= r["val_silhouette_iou"] <= 1
        assert r["val_s"] > 0 and r["val_objects"] == len(tiny_data) and r["val_views"] == 2
    assert recs[0]["train_s"] == pytest.approx(0, abs=0.5)
    assert recs[-1]["train_s"] > recs[0]["train_s"]
    # The training loss is logged at every log step beside it.
    steps = [json.loads(x)["step"] for x in open(f"{cfg.out_dir}/metrics.jsonl")]
    assert steps == [1, 2, 3, 4]


def test_resume_keeps_the_curve_and_marks_the_calls(make_config, tiny_data, template):
    cfg = make_config(val_every=2, val_views=1, iterations=6)
    train(cfg, tiny_data, template=template, progress=False, val_data=tiny_data,
          stop_after=3)
    path = f"{cfg.out_dir}/{CURVE_FILE}"
    # A record past the checkpoint (written before a crash) and a torn line.
    with open(path, "a") as fh:
        fh.write(json.dumps({"step": 5, "val_voxel_iou": 9.0}) + "\n" + '{"step": 6, "val')
    train(cfg, tiny_data, template=template, progress=False, val_data=tiny_data)
    recs = read_curve(path)
    assert [r["step"] for r in recs] == [0, 2, 4, 6]
    assert [r["resumed_at"] for r in recs] == [0, 0, 3, 3]
    assert all(r["val_voxel_iou"] <= 1 for r in recs)


def test_no_validation_when_val_every_is_zero(make_config, tiny_data, template):
    cfg = make_config(val_every=0)
    train(cfg, tiny_data, template=template, progress=False, val_data=tiny_data)
    assert read_curve(f"{cfg.out_dir}/{CURVE_FILE}") == []


def test_validation_subset_is_the_first_objects_of_each_class(make_config, tiny_data_dir):
    sub = validation_subset(make_config(data_dir=str(tiny_data_dir), val_objects=1))
    assert len(sub) == 2 and sorted(sub.classes) == ["ball", "box"]
    assert validation_subset(make_config(data_dir="")) is None
    assert validation_subset(make_config(data_dir=str(tiny_data_dir), val_every=0)) is None


def test_validate_matches_the_evaluation_and_restores_the_mode(make_config, tiny_data,
                                                               template):
    cfg = make_config()
    model = build_model(cfg, template)
    model.train()
    res = validate(model, tiny_data, cfg.image_size, num_views=24)
    assert model.training
    ious = per_object_iou(model, tiny_data, cfg.image_size)
    assert res["val_voxel_iou"] == pytest.approx(ious.mean())


def test_per_object_table_labels_every_object_and_view(tiny_data):
    ious = np.arange(len(tiny_data) * 3, dtype=float).reshape(len(tiny_data), 3) / 100
    df = per_object_table(ious, tiny_data, [0, 5, 7], "softras", 2, "test")
    assert list(df.columns) == PER_OBJECT_COLUMNS and len(df) == ious.size
    box = df[df["class_id"] == "box"]
    assert sorted(box["object"].unique()) == [0, 1]
    assert df["view"].tolist()[:3] == [0, 5, 7]
    assert df.set_index(["class_id", "object", "view"]).loc[("ball", 1, 7), "voxel_iou"] == \
        pytest.approx(ious[tiny_data.indices_of("ball")[1], 2])
    with pytest.raises(ValueError, match="shape"):
        per_object_table(ious[:, :2], tiny_data, [0, 5, 7], "softras", 2, "test")
