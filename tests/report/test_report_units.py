"""Unit tests of the report writer and its tables."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from bench_softras.report.build import (
    ablation_table,
    gradient_summary,
    voxel_iou_table,
)
from bench_softras.report.document import Document, markdown_table
from bench_softras.report.paper import PAPER_METHODS, paper_table1


# -- document ---------------------------------------------------------------------------
def test_markdown_table_formats_and_escapes():
    df = pd.DataFrame({"name": ["a|b", "c", "007"], "x": [0.123456, math.nan, 2.0],
                       "n": [1, 2, 3]})
    lines = [ln.replace(" ", "") for ln in markdown_table(df, floatfmt=".3f").splitlines()]
    assert lines[0] == "|name|x|n|"
    assert re.fullmatch(r"\|:-+\|-+:\|-+:\|", lines[1])  # text left, numbers right
    assert lines[2] == "|a\\|b|0.123|1|"
    assert lines[3] == "|c||2|"  # NaN blank
    assert lines[4] == "|007|2.000|3|"  # text that looks like a number stays as it is


def test_markdown_table_cells_stay_literal_when_rendered():
    from markdown_it import MarkdownIt

    md = markdown_table(pd.DataFrame({"cost": ["B*F*H*W pairs"], "x": ["a|b"]}))
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<em>" not in html and "B*F*H*W pairs" in html and "a|b" in html


def test_document_writes_markdown_html_figures_and_data(tmp_path):
    import matplotlib.pyplot as plt

    from bench_softras.report.document import png_bytes

    doc = Document("T")
    doc.toc()
    doc.heading("Section")
    doc.text("uses `code` and **bold** <tag>, see [the section](#section)")
    doc.bullets(["first *item*", "second item"])
    doc.table(pd.DataFrame({"a": [1.5], "b": ["x*y"]}), "tab", "A *table*")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    doc.figure(png_bytes(fig), "fig", "A figure", pd.DataFrame({"x": [0, 1]}))
    paths = doc.write(tmp_path)
    md, html = paths["markdown"].read_text(), paths["html"].read_text()
    assert "![A figure](figures/fig.png)" in md and "| 1.5 |" in md
    assert "- [Section](#section)" in md  # the table of contents
    assert "- first *item*\n- second item" in md  # one list, not two paragraphs
    assert "<code>code</code>" in html and "<strong>bold</strong>" in html
    assert "&lt;tag&gt;" in html and "<tag>" not in html
    assert '<h2 id="section">Section</h2>' in html and 'href="#section"' in html
    assert "<li>first <em>item</em></li>" in html and "- first" not in html
    assert "A <em>table</em>" in html and "*table*" not in html
    assert "data:image/png;base64," in html and "figures/fig.png" not in html
    assert (tmp_path / "figures" / "fig.png").is_file()
    for name in ("tab", "fig"):
        assert (tmp_path / "data" / f"{name}.csv").is_file()
        assert (tmp_path / "data" / f"{name}.parquet").is_file()


def test_heading_anchors_follow_github_and_are_unique():
    doc = Document("T")
    first = doc.heading("Paired comparisons: reconstruction (test objects x views)")
    again = doc.heading("Paired comparisons: reconstruction (test objects x views)")
    assert first == "paired-comparisons-reconstruction-test-objects-x-views"
    assert again == first + "-1"


def test_long_tables_fold_in_html():
    from bench_softras.report.document import FOLD_ROWS

    doc = Document("T")
    doc.table(pd.DataFrame({"a": range(FOLD_ROWS + 1)}), "long", "Long")
    doc.table(pd.DataFrame({"a": range(3)}), "short", "Short")
    html = doc.to_html()
    assert html.count("<details>") == 1 and f"{FOLD_ROWS + 1} rows" in html


# -- tables -----------------------------------------------------------------------------
def test_paper_table_is_package_data():
    p = paper_table1()
    assert len(p) == 13 and p["class_id"].str.len().eq(8).all()
    assert set(PAPER_METHODS) <= set(p.columns)
    assert p.set_index("class_id").loc["02958343", "SoftRas"] == pytest.approx(0.7697)


def test_voxel_iou_table_joins_by_class_id_and_averages_seeds():
    recon = pd.DataFrame({
        "renderer": ["softras", "softras", "hard", "softras", "hard"],
        "class_id": ["02958343", "02958343", "02958343", "99999999", "99999999"],
        "category": ["car", "car", "car", None, None],
        "seed": [0, 1, 0, 0, 0],
        "voxel_iou": [0.5, 0.7, 0.2, 0.4, 0.1],
    })
    t = voxel_iou_table(recon)
    car = t[t["class_id"] == "02958343"].iloc[0]
    assert car["category"] == "car"  # the name saved with the results
    # A class without a saved name is shown by its id.
    assert t[t["class_id"] == "99999999"].iloc[0]["category"] == "99999999"
    assert car["ours: softras"] == pytest.approx(0.6)  # mean over seeds
    assert car["paper: SoftRas (ShapeNet)"] == pytest.approx(0.7697)
    other = t[t["class_id"] == "99999999"].iloc[0]
    assert math.isnan(other["paper: SoftRas (ShapeNet)"])  # not a paper class
    mean = t.iloc[-1]
    assert mean["category"] == "mean"
    assert mean["ours: softras"] == pytest.approx(0.5)
    assert mean["ours: hard"] == pytest.approx(0.15)
    assert list(t.columns[2:4]) == ["ours: hard", "ours: softras"]


def test_seed_table_means_and_spread_across_seeds():
    from bench_softras.report.build import seed_table
    from bench_softras.report.figures import recon_iou_bars

    recon = pd.DataFrame({
        "renderer": ["softras"] * 4 + ["hard"] * 2 + ["template"] * 2,
        "class_id": ["a", "b"] * 4, "category": ["A", "B"] * 4,
        "seed": pd.array([0, 0, 1, 1, 0, 0, None, None], dtype="Int64"),
        "voxel_iou": [0.4, 0.6, 0.6, 0.8, 0.2, 0.2, 0.1, 0.3],
    })
    t = seed_table(recon).set_index("renderer")
    assert list(t.index) == ["template", "hard", "softras"]
    assert t.loc["softras", "seed 0"] == pytest.approx(0.5)
    assert t.loc["softras", "seed 1"] == pytest.approx(0.7)
    assert t.loc["softras", "mean"] == pytest.approx(0.6)
    assert t.loc["softras", "std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert t.loc["softras", "seeds"] == 2 and t.loc["hard", "seeds"] == 1
    assert math.isnan(t.loc["hard", "std"]) and math.isnan(t.loc["hard", "seed 1"])
    assert t.loc["template", "no seed"] == pytest.approx(0.2) and t.loc["template", "seeds"] == 0
    fig, data = recon_iou_bars(recon)
    assert len(data) == 8  # one row per renderer, category and seed
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_gradient_summary_has_one_row_per_renderer_and_sigma():
    grad = pd.DataFrame({
        "renderer": ["softras"] * 4 + ["hard"] * 2,
        "sigma": [1e-4, 1e-4, 1e-3, 1e-3, np.nan, np.nan],
        "loss": ["iou", "weighted"] * 3,
        "cosine": [0.9, 0.8, 0.7, 0.6, 0.0, 0.0],
        "sign_agree": [1, 1, 1, 1, 0, 0],
        "rel_l2": [0.1] * 6,
    })
    s = gradient_summary(grad)
    assert len(s) == 3
    row = s[(s["renderer"] == "softras") & (s["sigma"] == 1e-3)].iloc[0]
    assert row["cosine: iou"] == pytest.approx(0.7) and row["cosine: weighted"] == 0.6


def test_ablation_table_order_and_figure_data():
    from bench_softras.report.figures import ablation_bars

    abl = pd.DataFrame({
        "variant": ["4 views", "sigma", "baseline", "no flatten", "sigma", "no laplacian"],
        "shape": "cube", "renderer": "softras",
        "sigma": [1e-4, 1e-3, 1e-4, 1e-4, 1e-5, 1e-4],
        "use_laplacian": [True, True, True, True, True, False],
        "use_flatten": [True, True, True, False, True, True],
        "num_views": [4, 24, 24, 24, 24, 24],
        "voxel_iou": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        "silhouette_iou": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
        "steps": 10, "wall_s": 1.0,
    })
    t = ablation_table(abl)
    assert list(t["variant"]) == ["baseline", "sigma", "sigma", "no laplacian", "no flatten",
                                  "4 views"]
    assert list(t["sigma"][1:3]) == [1e-5, 1e-3] and "shape" not in t.columns
    fig, data = ablation_bars(abl)
    assert len(data) == 2 * len(abl) and set(data["metric"]) == {"voxel_iou", "silhouette_iou"}
    sweep_line = fig.axes[0].get_lines()[0]  # voxel IoU vs sigma: baseline + the sweep
    assert list(sweep_line.get_xdata()) == [1e-5, 1e-4, 1e-3]
    assert list(sweep_line.get_ydata()) == [0.5, 0.3, 0.2]
    import matplotlib.pyplot as plt

    plt.close(fig)


# -- generated sentences and absent renderers -------------------------------------------
def _ablations(color_voxel: float) -> pd.DataFrame:
    return pd.DataFrame({"variant": ["baseline", "color"], "voxel_iou": [0.30, color_voxel],
                         "silhouette_iou": [0.65, 0.65], "color_weight": [0.0, 1.0],
                         "color_mse_start": [math.nan, 0.18], "color_mse": [math.nan, 0.10]})


def test_colour_sentence_follows_its_numbers():
    from bench_softras.report.build import color_sentence

    same = color_sentence(_ablations(0.30))
    assert "equal the baseline's" in same and "drift" not in same and "differ" not in same
    assert "falls from 0.1800 (the mid-grey start) to 0.1000" in same
    other = color_sentence(_ablations(0.31))
    assert "differ from the baseline's by +0.0100 (voxel) and +0.0000 (silhouette)" in other
    assert "equal" not in other


def test_absent_renderers_from_timing_notes_and_configuration(tmp_path):
    import json

    from bench_softras.report.build import absent_renderers

    (tmp_path / "timing").mkdir()
    (tmp_path / "timing" / "timing_notes.json").write_text(json.dumps(
        {"absent_renderers": {"mitsuba": "mitsuba is not installed"}}))
    run = {"config": {"renderers": ["softras"], "study_renderers": ["softras", "hard"],
                      "timing": {"renderers": ["softras", "pytorch3d_soft", "mitsuba"]}}}
    families = [{"renderer": "softras"}, {"renderer": "hard"}]
    absent = absent_renderers(tmp_path, run, families)
    assert absent == {"mitsuba": "mitsuba is not installed",
                      "pytorch3d_soft": "not available on the machine that ran the job"}
    assert absent_renderers(tmp_path / "none", run, None) == {}
