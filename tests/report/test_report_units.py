"""Unit tests of the report writer, the tables and the timing study's pieces."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

import renderers
from bench_softras import cli
from bench_softras.report.build import (
    ablation_table,
    gradient_summary,
    timing_base_table,
    voxel_iou_table,
)
from bench_softras.report.document import Document, markdown_table
from bench_softras.report.paper import PAPER_METHODS, paper_table1
from bench_softras.settings import SMOKE
from bench_softras.studies import timing
from renderers.hard import bbox_pixel_count
from renderers.peers import PEERS, register_peers


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


# -- timing -------------------------------------------------------------------------------
def _brute_bbox_pixels(fv, h, w):
    total = 0
    for tri in fv.reshape(-1, 3, 3).double().numpy():
        c = (tri[:, 0] * w + w - 1) / 2
        r = (h - 1 - tri[:, 1] * h) / 2
        c0, c1 = np.clip([c.min(), c.max()], -2, w + 1)
        r0, r1 = np.clip([r.min(), r.max()], -2, h + 1)
        i0, i1 = max(0, math.ceil(r0) - 1), min(h - 1, math.floor(r1) + 1)
        j0, j1 = max(0, math.ceil(c0) - 1), min(w - 1, math.floor(c1) + 1)
        total += max(0, i1 - i0 + 1) * max(0, j1 - j0 + 1)
    return total


def test_bbox_pixels_matches_a_loop():
    fv = timing.screen_faces(1, 2)
    fv[0, :5] += 3.0  # faces off screen count nothing
    assert bbox_pixel_count(fv, 24, 40) == _brute_bbox_pixels(fv, 24, 40)


def test_pairs_evaluated_per_renderer():
    fv = timing.screen_faces(2, 3)
    dense = renderers.get("softras_torch", image_size=32, sigma=1e-4)
    assert timing.pairs_evaluated("softras_torch", dense, fv) == 3 * 320 * 32 * 32
    soft = renderers.get("softras", image_size=32, sigma=1e-4)
    sharp = renderers.get("softras", image_size=32, sigma=1e-6)
    p_soft = timing.pairs_evaluated("softras", soft, fv)
    p_sharp = timing.pairs_evaluated("softras", sharp, fv)
    assert 0 < p_sharp < p_soft < 3 * 320 * 32 * 32  # culling: fewer pairs, fewer at low sigma
    hard = renderers.get("hard", image_size=32)
    assert timing.pairs_evaluated("hard", hard, fv) == _brute_bbox_pixels(fv, 32, 32)

    class Own:
        def pairs_evaluated(self, face_vertices):
            return 7

    assert timing.pairs_evaluated("whatever", Own(), fv) == 7
    assert math.isnan(timing.pairs_evaluated("whatever", object(), fv))


def test_screen_faces_shapes_and_views():
    fv = timing.screen_faces(1, 4)
    assert fv.shape == (4, 80, 3, 3)
    assert not torch.allclose(fv[0], fv[1])  # different azimuths
    assert fv[..., 2].min() > 0  # in front of the camera


def test_plan_sweeps_one_factor_at_a_time():
    cfg = timing.TimingConfig(renderers=("softras", "hard"), subdivisions=(1, 2),
                              image_sizes=(16,), batch_sizes=(1,), sigmas=(1e-4, 1e-3),
                              base_subdivisions=1, base_image_size=16, base_batch=1)
    items = timing.plan(cfg, cfg.renderers)
    soft = [i for i in items if i["renderer"] == "softras"]
    hard = [i for i in items if i["renderer"] == "hard"]
    assert len(soft) == 2 + 1 + 1 + 2 and len(hard) == 2 + 1 + 1
    assert all(math.isnan(i["sigma"]) for i in hard)
    assert {i["sigma"] for i in soft if i["sweep"] == "sigma"} == {1e-4, 1e-3}
    assert {i["s"] for i in soft if i["sweep"] != "faces"} == {1}


def test_study_caps_dense_renderers_and_writes_tables(tmp_path):
    cfg = timing.TimingConfig(renderers=("softras_torch", "hard", "pytorch3d_soft"),
                              subdivisions=(1, 2), image_sizes=(16,), batch_sizes=(1,),
                              sigmas=(1e-4,), base_subdivisions=1, base_image_size=16,
                              base_batch=1, base_sigma=1e-4, warmup=0, repeats=1,
                              max_dense_pairs=80 * 16 * 16, memory=False)
    df = timing.run_timing_study(cfg, tmp_path, progress=False)
    assert list(df.columns) == timing.COLUMNS
    dense = df[df["renderer"] == "softras_torch"]
    assert set(dense["faces"]) == {80}  # 320 faces exceed the cap
    skipped = pd.read_csv(tmp_path / "timing_skipped.csv")
    installed = "pytorch3d_soft" in renderers.available()  # capped the same way when present
    assert list(skipped["renderer"]) == ["softras_torch"] + ["pytorch3d_soft"] * installed
    assert set(skipped["faces"]) == {320}
    assert skipped["reason"].str.contains("max_dense_pairs").all()
    fb = df[(df["renderer"] == "hard") & (df["pass"] == "forward+backward")]
    assert set(fb["faces"]) == {80, 320} and set(fb["sweep"]) == {"faces", "image_size",
                                                                  "batch"}
    row = dense[dense["pass"] == "forward"].iloc[0]
    assert row["images_per_s"] == pytest.approx(1 / row["time_s"])
    assert row["ns_per_pair"] == pytest.approx(row["time_s"] / (80 * 16 * 16) * 1e9)
    assert (tmp_path / "timing.parquet").is_file()
    base = timing_base_table(df)
    timed = {"softras_torch", "hard"} | ({"pytorch3d_soft"} if installed else set())
    assert set(base["renderer"]) == timed
    assert len(base) == 3 * (2 + installed)


def test_cost_cap_counts_each_costly_renderers_own_work():
    """``softras_torch`` and ``pytorch3d_soft`` are capped by their pixel-face pairs,
    ``mitsuba`` by its rays
    (B*H*W*spp); the others are never capped."""
    cap = 4 * 1280 * 64 * 64
    assert timing.over_cost_cap("softras_torch", 4, 1280, 64, cap) is None
    assert "over the cost cap: B*F*H*W" in timing.over_cost_cap("softras_torch", 4, 1280, 65,
                                                                cap)
    assert timing.over_cost_cap("softras", 64, 20480, 512, 1) is None
    # PyTorch3D's CPU rasterizer visits every pixel-face pair too (the name is capped
    # whether or not pytorch3d is installed: the rule needs no import).
    assert timing.over_cost_cap("pytorch3d_soft", 4, 1280, 64, cap) is None
    assert "B*F*H*W" in timing.over_cost_cap("pytorch3d_soft", 4, 1280, 65, cap)
    if "mitsuba" in renderers.available():
        spp = renderers.describe("mitsuba").defaults()["spp"]
        assert timing.over_cost_cap("mitsuba", 4, 1280, 64, 4 * 64 * 64 * spp) is None
        reason = timing.over_cost_cap("mitsuba", 4, 1280, 64, 4 * 64 * 64 * spp - 1)
        assert reason.startswith("over the cost cap: B*H*W*spp rays")


def test_unknown_renderer_in_timing_raises():
    with pytest.raises(KeyError, match="unknown renderer 'nope'"):
        timing.run_timing_study(dataclasses.replace(SMOKE.timing,
                                                    renderers=("nope",)), progress=False)


def test_peak_rss_sees_an_allocation():
    timing._malloc_trim()
    with timing.PeakRSS() as m:
        block = np.ones(64 << 20, dtype=np.uint8)  # 64 MiB, touched
        block[::4096] = 2
    assert (m.peak - m.base) / 2**20 >= 48
    del block


def test_memory_per_pass_is_reported():
    fv = timing.screen_faces(1, 2)
    r = renderers.get("softras_torch", image_size=32, sigma=1e-4)
    mem = timing.measure_memory(r, fv, torch.rand(2, 32, 32))
    assert set(mem) == set(timing.PASSES)
    assert mem["forward+backward"] >= max(mem["forward"], 0)


def test_time_passes_median():
    fv = timing.screen_faces(1, 1)
    r = renderers.get("hard", image_size=16)
    t = timing.time_passes(r, fv, torch.rand(1, 16, 16), warmup=1, repeats=3)
    assert set(t) == set(timing.PASSES) and all(v > 0 for v in t.values())


def test_timing_config_rejects_bad_values():
    with pytest.raises(ValueError, match="repeats"):
        timing.TimingConfig(repeats=0)
    with pytest.raises(ValueError, match="sigmas"):
        timing.TimingConfig(sigmas=(0.0,))


# -- optional renderers and CLI -------------------------------------------------------------
def test_optional_pytorch3d_adapter_registers_only_when_installed():
    import importlib.util

    notes = register_peers()
    if importlib.util.find_spec("pytorch3d") is None:
        assert notes["pytorch3d_soft"] == "pytorch3d is not installed"
        assert "pytorch3d_soft" not in renderers.available()
    else:  # pragma: no cover - pytorch3d is not installable on the CI machines
        assert "pytorch3d_soft" in renderers.available()
    # Every peer is either registered or noted as absent, never both.
    assert set(notes) == {n for n in PEERS if n not in renderers.available()}


def test_cli_usage_and_unknown_command(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for cmd in ("report", "fit", "train", "evaluate", "gradients", "timing", "renderers"):
        assert cmd in out
    assert cli.main(["bake"]) == 2
    assert "unknown command 'bake'" in capsys.readouterr().err


def test_cli_lists_renderers(capsys):
    assert cli.main(["renderers"]) == 0
    out = capsys.readouterr().out.split("\n")
    assert {"softras", "softras_torch", "hard", "n3mr"} <= set(out)


def test_cli_dispatches_to_the_study(tmp_path, capsys):
    code = cli.main(["timing", "--out", str(tmp_path), "--preset", "smoke", "--renderers",
                     "hard", "--no-memory", "--no-progress"])
    assert code == 0
    assert set(pd.read_csv(tmp_path / "timing.csv")["renderer"]) == {"hard"}


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
