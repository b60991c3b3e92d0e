"""The per-object data a reader recomputes verdicts from is saved with the report even
when there is nothing to pair (one renderer), and is absent only when there is none."""

from __future__ import annotations

import pandas as pd
import pytest

from bench_softras.report.document import Document
from bench_softras.report.evidence import paired_section


def _per_object(renderers: list[str]) -> pd.DataFrame:
    rows = [{"renderer": r, "seed": 0, "class_id": "1", "category": "cat", "object": o,
             "view": v, "voxel_iou": 0.5 + 0.01 * o + 0.001 * v}
            for r in renderers for o in range(3) for v in range(2)]
    return pd.DataFrame(rows)


def test_one_renderer_keeps_its_per_object_data() -> None:
    doc = Document("t")
    paired_section(doc, _per_object(["softras"]), ["softras"], None, "recon_paired",
                   "reconstruction")
    saved = doc.data["recon_per_object"]
    assert list(saved["object"]) == [0, 1, 2]
    assert saved["views"].tolist() == [2, 2, 2]
    assert saved["voxel_iou"].tolist() == pytest.approx([0.5005, 0.5105, 0.5205])
    assert "recon_paired" not in doc.data


def test_no_results_no_data() -> None:
    doc = Document("t")
    paired_section(doc, None, [], None, "recon_paired", "reconstruction")
    assert "recon_per_object" not in doc.data
