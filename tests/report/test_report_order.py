"""The report's display order comes from renderers.json (the order each renderer
declares), not from a list in the report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench_softras.report import build, figures, order
from bench_softras.runs import RENDERERS_JSON


@pytest.fixture(autouse=True)
def _fresh_order():
    """Leave no display order behind for other tests."""
    yield
    order._ORDER.set(())


def test_order_is_read_from_renderers_json(tmp_path):
    rows = [{"renderer": "softras", "order": 30}, {"renderer": "zeta", "order": 5},
            {"renderer": "hard", "order": 10}, {"renderer": "old"}]
    (tmp_path / RENDERERS_JSON).write_text(json.dumps(rows))
    assert order.use_run(tmp_path) == ("zeta", "hard", "softras", "old")
    names = ["softras", "alpha", "template", "hard", "zeta", "old"]
    assert order.ordered(names) == ["template", "zeta", "hard", "softras", "old", "alpha"]
    assert figures._order(names) == order.ordered(names)
    recon = pd.DataFrame({"renderer": ["softras", "hard", "zeta", "template"],
                          "class_id": "02691156", "category": "airplane", "seed": [0, 0, 0, None],
                          "voxel_iou": [0.5, 0.2, 0.4, 0.1]})
    cols = [c for c in build.voxel_iou_table(recon).columns if c.startswith("ours: ")]
    assert cols == ["ours: template", "ours: zeta", "ours: hard", "ours: softras"]


def test_without_renderers_json_names_are_alphabetical_after_the_template(tmp_path):
    assert order.use_run(tmp_path) == ()
    assert order.ordered(["softras", "hard", "template"]) == ["template", "hard", "softras"]
