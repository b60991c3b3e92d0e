"""Report pieces behind the verdicts: convergence tables and flags, paired tables,
time summed over resumed calls, and the figure fixes (labelled ticks, visible lines)."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from bench_softras.report import figures
from bench_softras.report.build import seed_table, stage_table
from bench_softras.report.document import html_table
from bench_softras.report.evidence import flag_columns
from bench_softras.report.results import read_run_logs
from bench_softras.report.stats import CONDITIONAL, CROSSED
from bench_softras.report.verdicts import (
    convergence_sentence,
    fitting_per_object,
    paired_table,
    run_convergence,
    summed_wall,
    training_seconds,
    unsettled,
    validation_cost,
    verdict_sentences,
)


def _curves():
    steps = np.arange(0, 801, 100)
    rows = []
    for seed in (0, 1):
        for r, ys in (("softras", 0.2 + 0.0005 * steps),  # still rising at the end
                      ("n3mr", 0.6 - 0.4 * np.exp(-steps / 80.0))):  # flat at the end
            rows += [{"renderer": r, "seed": seed, "step": int(s), "val_voxel_iou": y,
                      "val_silhouette_iou": y, "val_s": 1.0, "train_s": 10.0 * s / 100,
                      "resumed_at": 0} for s, y in zip(steps, ys, strict=True)]
    return pd.DataFrame(rows)


def test_run_convergence_flags_the_run_still_improving():
    conv = run_convergence(_curves())
    status = conv.set_index(["renderer", "seed"])["status"]
    assert status[("softras", 0)] == status[("softras", 1)] == "still improving"
    assert status[("n3mr", 0)] == "plateaued"
    soft = conv[conv["renderer"] == "softras"]
    assert (soft["gain_last_quarter"] > soft["gain_margin"]).all()
    assert (soft["window_from"] == 500).all() and (soft["window_points"] == 4).all()
    flags = unsettled(conv)
    assert flags == {"n3mr": {}, "softras": {0: "still improving", 1: "still improving"}}
    t = flag_columns(pd.DataFrame(columns=["category", "ours: softras", "ours: n3mr"]), flags)
    assert list(t.columns) == ["category", "ours: softras (still improving)", "ours: n3mr"]


def test_convergence_sentence_names_each_run_still_improving():
    conv = run_convergence(_curves())
    text = convergence_sentence(conv)
    # softras rises 0.0005 per step: a gain of 0.15 over its last four points (steps
    # 500..800); an exact line, so its margin is the resolution floor.
    assert text.startswith("Not converged within this job: 2 of 4 runs still improving")
    assert "`softras` seed 0: +0.1500 (margin 0.0010) over steps 500-800" in text
    assert "`n3mr`" not in text
    flat = conv[conv["renderer"] == "n3mr"]
    assert convergence_sentence(flat).startswith(
        "2 of 2 runs plateaued within this job")


def _with_declining_hard():
    steps = np.arange(0, 801, 100)
    hard = pd.DataFrame({"renderer": "hard", "seed": 0, "step": steps,
                         "val_voxel_iou": 0.22 - 0.0002 * steps})  # -0.04 over 600..800
    return pd.concat([_curves(), hard], ignore_index=True)


def test_a_run_still_declining_is_flagged_in_columns_cautions_and_sentence():
    conv = run_convergence(_with_declining_hard())
    status = conv.set_index(["renderer", "seed"])["status"]
    assert status[("hard", 0)] == "still declining"
    flags = unsettled(conv)
    assert flags["hard"] == {0: "still declining"}
    t = flag_columns(pd.DataFrame(columns=["ours: softras", "ours: hard", "ours: n3mr"]),
                     flags)
    assert list(t.columns) == ["ours: softras (still improving)",
                               "ours: hard (still declining)", "ours: n3mr"]
    text = convergence_sentence(conv)
    assert "2 of 5 runs still improving" in text
    assert ("1 still declining: `hard` seed 0: -0.0600 (margin 0.0010) over steps 500-800"
            in text)
    only_down = convergence_sentence(conv[conv["renderer"] != "softras"])
    assert only_down.startswith("2 of 3 runs plateaued within this job")
    assert "; 1 still declining" in only_down and "`hard` seed 0: -0.0600" in only_down
    rng = np.random.default_rng(0)
    per_object = pd.DataFrame([
        {"renderer": r, "seed": s, "category": "c", "object": o, "view": 0,
         "voxel_iou": rng.uniform()} for r in ("softras", "hard", "n3mr") for s in (0, 1)
        for o in range(4)])
    paired = paired_table(per_object, ["softras", "n3mr", "hard"], flags).set_index(["a", "b"])
    assert paired.loc[("softras", "hard"), "caution"].iloc[0] == (
        "still improving: softras (seed 0, 1); still declining: hard (seed 0)")
    assert paired.loc[("n3mr", "hard"), "caution"].iloc[0] == (
        "still declining: hard (seed 0)")


def test_validation_cost_is_validation_over_training_time():
    cost = validation_cost(_curves()).set_index(["renderer", "seed"])
    assert cost.loc[("softras", 0), "val_s"] == 9.0
    assert cost.loc[("softras", 0), "train_s"] == 80.0
    assert cost.loc[("softras", 0), "val_percent"] == pytest.approx(100 * 9 / 80)


def test_wall_time_is_summed_over_resumed_calls():
    # Call 1 trained to step 400 (its later steps were lost and redone), call 2 from 400.
    calls = pd.DataFrame({"step": [200, 400, 600, 800], "wall_s": [900.0, 3000.0, 700.0, 1604.0],
                          "resumed_at": [0, 0, 400, 400]})
    assert summed_wall(calls, "wall_s") == 4604.0
    # Older logs without resumed_at: a call starts where wall_s falls back.
    assert summed_wall(calls.drop(columns="resumed_at"), "wall_s") == 4604.0


def test_stage_table_counts_training_of_every_call(tmp_path):
    run = tmp_path / "reconstruction" / "softras" / "seed_0"
    run.mkdir(parents=True)
    (tmp_path / "reconstruction" / "stage.json").write_text(json.dumps(
        {"stage": "reconstruction", "status": "done", "wall_s": 1803.0}))
    recs = [{"step": 400, "wall_s": 3000.0, "resumed_at": 0},
            {"step": 800, "wall_s": 1604.0, "resumed_at": 400}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    metrics = read_run_logs(tmp_path, "metrics.jsonl")
    assert training_seconds(metrics) == 4604.0
    t = stage_table(tmp_path, {"stages": {"reconstruction": "ran"}}, metrics)
    row = t.set_index("stage").loc["reconstruction"]
    assert row["wall_s"] == 1803.0 and row["train_s, all calls"] == 4604.0


def test_per_seed_html_table_has_no_stray_header():
    recon = pd.DataFrame({"renderer": ["softras", "softras", "template"],
                          "seed": pd.array([0, 1, None], dtype="Int64"),
                          "class_id": ["a", "a", "a"], "voxel_iou": [0.5, 0.6, 0.1]})
    t = seed_table(recon)
    assert t.columns.name is None
    assert "column" not in html_table(t)


def _per_object(seeds, rng):
    rows = []
    for cat in ("chair", "car"):
        for o in range(6):
            for v in range(3):
                base = rng.uniform(0.3, 0.6)
                for s in seeds:
                    rows += [{"renderer": "softras", "seed": s, "category": cat, "object": o,
                              "view": v, "voxel_iou": base + 0.05 + rng.normal(0, 0.002)},
                             {"renderer": "n3mr", "seed": s, "category": cat, "object": o,
                              "view": v, "voxel_iou": base}]
    return pd.DataFrame(rows)


def test_paired_table_and_sentences_from_per_object_results(tmp_path):
    rng = np.random.default_rng(0)
    t = paired_table(_per_object((0, 1, 2), rng), ["softras", "n3mr"],
                     {"softras": {0: "still improving"}})
    assert list(t["category"]) == ["car", "chair", "overall"]
    assert t["difference"].to_numpy() == pytest.approx([0.05] * 3, abs=0.002)
    assert (t["verdict"] == "ahead").all() and (t["method"] == CROSSED).all()
    assert (t["n_seeds"] == 3).all() and list(t["n_categories"]) == [1, 1, 2]
    [sentence] = verdict_sentences(t)
    assert sentence.startswith("`softras` is ahead of `n3mr` by 0.05")
    assert "12 objects in 2 categories x 3 seeds, t interval with" in sentence
    assert "still improving: softras (seed 0)" in sentence
    # The sentences are the same from the table read back from its CSV.
    t.to_csv(tmp_path / "p.csv", index=False)
    assert verdict_sentences(pd.read_csv(tmp_path / "p.csv")) == [sentence]


def test_one_seed_gives_an_indicative_sentence_conditional_on_it(tmp_path):
    t = paired_table(_per_object((4,), np.random.default_rng(0)), ["softras", "n3mr"])
    assert (t["verdict"] == "indicative").all() and (t["method"] == CONDITIONAL).all()
    [sentence] = verdict_sentences(t)
    assert "indicative only" in sentence and "conditional on seed 4" in sentence
    assert "above 0" in sentence and "ahead" not in sentence
    t.to_csv(tmp_path / "p.csv", index=False)
    assert verdict_sentences(pd.read_csv(tmp_path / "p.csv")) == [sentence]


def test_fitting_results_become_per_object_rows():
    fit = pd.DataFrame({"shape": ["chair_0", "chair_0", "chair_1", "cube"],
                        "renderer": ["softras"] * 4, "seed": [0] * 4, "step": [0, 5, 5, 5],
                        "voxel_iou": [0.1, 0.4, 0.5, 0.6]})
    per = fitting_per_object(fit).sort_values("object")
    assert per["category"].tolist() == ["chair", "chair", "cube"]
    assert per["voxel_iou"].tolist() == [0.4, 0.5, 0.6]  # the last recorded step


def test_log_axes_spanning_under_a_decade_get_labelled_ticks():
    t = pd.DataFrame({"renderer": "softras", "sweep": "sigma", "faces": 80,
                      "image_size": 64, "batch": 4, "sigma": [1e-5, 1e-4, 1e-3],
                      "pass": "forward+backward", "peak_mem_mb": [1.1, 2.0, 3.5]})
    fig, _ = figures.timing_scaling(t, "peak_mem_mb", ("forward+backward",))
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    labels = [tk.get_text() for tk in ax.get_yticklabels()
              if tk.get_text() and lo <= tk.get_position()[1] <= hi]
    assert len(labels) >= 2, labels
    plt.close(fig)


def test_renderers_without_sigma_at_the_same_value_stay_visible():
    fid = pd.DataFrame({"renderer": ["softras", "softras", "n3mr", "hard"],
                        "sigma": [1e-5, 1e-4, np.nan, np.nan],
                        "mad_exact": [0.1, 0.2, 0.05, 0.05], "sil_iou": [0.9, 0.8, 0.95, 0.95]})
    fig, _ = figures.forward_fidelity(fid)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert "n3mr (= hard)" in lines and "hard (= n3mr)" in lines
    a, b = lines["n3mr (= hard)"], lines["hard (= n3mr)"]
    assert (a.get_linestyle(), a.get_marker()) != (b.get_linestyle(), b.get_marker())
    plt.close(fig)
