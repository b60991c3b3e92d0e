"""A NaN in a saved table is flagged in the report, naming the table and renderer
(before, it silently changed a mean and dropped a renderer from the paired
comparisons)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench_softras.report.build import build_report
from bench_softras.report.nonfinite import nonfinite_cautions
from bench_softras.report.verdicts import paired_table


def _per_object(nan_renderer: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"renderer": r, "seed": 0, "category": c, "object": o, "view": 0,
             "voxel_iou": float(rng.uniform(0.3, 0.7))}
            for r in ("softras", "n3mr", "plugin") for c in ("chair", "car") for o in range(4)]
    df = pd.DataFrame(rows)
    if nan_renderer:
        df.loc[df["renderer"] == nan_renderer, "voxel_iou"] = np.nan
    return df


def test_a_nan_renderer_silently_leaves_the_paired_table_but_is_flagged():
    per = _per_object("plugin")
    pairs = paired_table(per, ["softras", "n3mr", "plugin"], {})
    assert "plugin" not in set(pairs["a"]) | set(pairs["b"])  # what the caution is for
    lines = nonfinite_cautions({"recon_per_object": per})
    assert lines == ["table `recon_per_object`, renderer `plugin`: 8 of 8 rows hold NaN/Inf "
                     "in `voxel_iou`"]


def test_not_applicable_nan_columns_and_finite_tables_give_no_caution():
    grad = pd.DataFrame({"renderer": ["hard", "softras"], "sigma": [np.nan, 1e-4],
                         "cosine": [0.0, 0.9], "rel_l2": [1.0, 0.2], "sign_agree": [0.0, 1.0],
                         "norm_ratio": [0.0, 1.0], "cosine_mitsuba": [np.nan, np.nan]})
    assert nonfinite_cautions({"gradient_accuracy": grad, "recon_per_object": _per_object(),
                               "timing": None}) == []
    grad.loc[1, "norm_ratio"] = np.inf
    grad["cosine"] = grad["cosine"].astype(object)
    grad.loc[0, "cosine"] = "oops"  # text where a number belongs: not a score either
    assert nonfinite_cautions({"gradient_accuracy": grad}) == [
        "table `gradient_accuracy`, renderer `hard`: 1 of 1 rows hold NaN/Inf in `cosine`",
        "table `gradient_accuracy`, renderer `softras`: 1 of 1 rows hold NaN/Inf in "
        "`norm_ratio`"]


def test_report_shows_the_caution_naming_renderer_and_table(tmp_path):
    d = tmp_path / "results" / "run"
    (d / "gradients").mkdir(parents=True)
    fid = pd.DataFrame({"renderer": ["softras", "softras", "nanplug"], "scene": "triangle",
                        "sigma": [1e-4, 1e-3, np.nan], "mad_exact": [0.1, 0.2, np.nan],
                        "mad_hard": [0.1, 0.2, np.nan], "sil_iou": [0.9, 0.8, np.nan],
                        "sil_iou_hard": [0.9, 0.8, np.nan], "image_size": 32, "seed": 0})
    fid.to_csv(d / "gradients" / "forward_fidelity.csv", index=False)
    paths = build_report(d, tmp_path / "report")
    text = paths["markdown"].read_text()
    assert "Caution: non-finite values" in text
    assert ("table `forward_fidelity`, renderer `nanplug`: 1 of 1 rows hold NaN/Inf in "
            "`mad_exact`, `mad_hard`, `sil_iou`, `sil_iou_hard`") in text
    assert text.index("Caution: non-finite") < text.index("Gradient accuracy")
