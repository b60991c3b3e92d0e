"""The synthesis section: one row per renderer across the studies, the rank
correlation with its n and exact p, and the generated sentences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench_softras.report.synthesis import (
    COLUMNS,
    at_sigma,
    cost_sentence,
    gradient_sentence,
    spearman,
    synthesis_figure,
)


def test_spearman_with_the_exact_permutation_p():
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    rho, n, p = spearman(x, x ** 2)
    assert (rho, n) == (pytest.approx(1.0), 5)
    assert p == pytest.approx(2 / math.factorial(5))  # only +-1 are as extreme
    rho, n, p = spearman(x, pd.Series([2.0, 1.0, 4.0, 3.0, 5.0]))
    assert rho == pytest.approx(0.8)
    # Missing values drop their pair; fewer than 3 pairs: no correlation.
    rho, n, _ = spearman(pd.Series([1.0, 2.0, np.nan]), pd.Series([1.0, 2.0, 3.0]))
    assert n == 2 and math.isnan(rho)


def test_each_renderer_is_read_at_the_sigma_nearest_the_chosen_one():
    df = pd.DataFrame({"renderer": ["softras"] * 3 + ["n3mr"],
                       "sigma": [1e-5, 3e-5, 1e-4, np.nan], "cosine": [1.0, 2.0, 3.0, 4.0]})
    got = at_sigma(df, 4e-5).set_index("renderer")["cosine"]
    assert got.to_dict() == {"softras": 2.0, "n3mr": 4.0}
    assert at_sigma(df, math.nan).set_index("renderer").loc["softras", "cosine"] == 2.0


def _table(n=3):
    names = ["softras", "n3mr", "hard", "dibr", "antialias", "edgegrad"][:n]
    return pd.DataFrame({"renderer": names, "grad_cosine": [0.7, 0.6, 0.0, 0.5, 0.4, 0.3][:n],
                         "recon_iou": [0.56, 0.55, 0.15, 0.5, 0.45, 0.4][:n],
                         "recon_low": [0.55, 0.54, 0.14, 0.49, 0.44, 0.39][:n],
                         "recon_high": [0.57, 0.56, 0.16, 0.51, 0.46, 0.41][:n],
                         "train_step_s": [0.4, 0.2, 0.1, 0.3, 0.2, 0.2][:n],
                         "fwd_bwd_s": [0.01] * n, "fit_iou": [0.5] * n}).reindex(
        columns=COLUMNS)


def test_gradient_sentence_says_when_n_is_too_small():
    s = gradient_sentence(_table(3))
    assert "Across the 3 renderers" in s and "+1.00" in s and "p = 0.33" in s
    assert "not evidence either way" in s
    s6 = gradient_sentence(_table(6))
    assert "Across the 6 renderers" in s6 and "reconstructed better" in s6


def test_cost_sentence_compares_the_best_with_the_cheapest():
    s = cost_sentence(_table(3), None)
    assert s.startswith("At what cost: the best reconstruction, `softras` (IoU 0.5600")
    assert "takes 0.4 s per training step, 4x the cheapest, `hard` (0.1 s" in s
    t = _table(3).assign(train_step_s=np.nan)  # no step time saved: the timing study's
    assert "per forward+backward call" in cost_sentence(t.assign(fwd_bwd_s=[0.02, 0.01,
                                                                            0.01]), None)


def test_the_figure_has_a_point_per_renderer_and_its_legend_off_the_axes():
    fig, data = synthesis_figure(_table(3))
    assert len(fig.axes) == 3 and len(data) == 3
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["softras", "n3mr", "hard"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert all(box.y1 <= ax.get_window_extent().y0 for ax in fig.axes)  # below the panels


@pytest.mark.slow
def test_the_report_has_the_synthesis(synthetic_report):
    _, report = synthetic_report
    md = (report / "report.md").read_text()
    assert "## Synthesis: gradient, fidelity, cost and IoU per renderer" in md
    assert (report / "figures" / "synthesis.png").read_bytes()[:4] == b"\x89PNG"
    t = pd.read_csv(report / "data" / "synthesis.csv").set_index("renderer")
    # Display order (the renderers' declared order; alphabetical without renderers.json)
    assert list(t.index) == ["dibr", "hard", "n3mr", "softras"]
    assert t.loc["softras", "sigma"] == pytest.approx(3e-5)  # the recon sigma
    assert t.loc["softras", "grad_cosine"] == pytest.approx(0.7, abs=0.02)
    assert t.loc["softras", "train_step_s"] == pytest.approx(0.04)  # 2 x 0.02 s per step
    assert math.isnan(t.loc["dibr", "recon_iou"]) and t.loc["dibr", "fit_targets"] == 3
    paired = pd.read_csv(report / "data" / "recon_paired.csv")
    per = pd.read_csv(report / "data" / "recon_per_object.csv")
    soft = per[per["renderer"] == "softras"]
    assert t.loc["softras", "recon_iou"] == pytest.approx(
        soft.groupby("category")["voxel_iou"].mean().mean())
    assert t.loc["softras", "recon_interval"] == "seeds x objects"
    assert "Across the 3 renderers with both results" in md
    # The cost sentence: softras (best) against hard (as cheap as n3mr, listed first in
    # display order), with the paired difference of the reconstruction section's table.
    row = paired[(paired["a"] == "softras") & (paired["b"] == "hard")
                 & (paired["category"] == "overall")].iloc[0]
    assert "2x the cheapest, `hard` (0.02 s" in md
    assert f"paired difference {row['difference']:+.4f} [{row['ci_low']:+.4f}" in md
