"""End to end: the main job with the ``smoke`` preset into a temporary directory (the CI
end-to-end test), resuming, rebuilding the report from saved results, and clear errors.

One smoke run (about 30-60 s on 2 cores) is shared by the module."""

from __future__ import annotations

import base64
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

import bench_softras.main_job as main_job
import renderers
from bench_softras import cli
from bench_softras.data import CACHE_ENV
from bench_softras.main_job import MainJobConfig, MainJobError, run_main_job
from bench_softras.report.paper import paper_table1
from bench_softras.report.verdicts import threshold_sentence, verdict_sentences
from bench_softras.runs import STAGES
from bench_softras.settings import SMOKE, STUDY_EXCLUDED
from bench_softras.studies.timing import COLUMNS as TIMING_COLUMNS
from bench_softras.studies.timing import VARIANTS as TIMING_VARIANTS
from renderers.peers import register_peers

pytestmark = pytest.mark.slow

#: Reconstruction's default: every registered renderer but the slow references (a query
#: over their descriptions, issue 19): the six Taichi families.
RENDERERS = tuple(renderers.names(slow=False))
FIGURES = ("recon_iou_bars", "learning_curves", "recon_examples", "recon_meshes",
           "fitting_curves",
           "fitting_silhouettes", "fitting_meshes", "ablation_iou", "color_fit",
           "gradient_accuracy",
           "forward_fidelity", "timing_time_s", "timing_peak_mem_mb", "timing_images_per_s",
           "timing_ns_per_pair", "synthesis")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``(config, report paths)`` of one smoke main job (data cache in the tmp dir)."""
    root = tmp_path_factory.mktemp("mainjob")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(root / "cache"))
        cfg = MainJobConfig(preset="smoke", results_root=str(root / "results"),
                            reports_root=str(root / "reports"), progress=False)
        paths = run_main_job(cfg)
        yield cfg, paths


def fit_slow() -> set[str]:
    """The slow references the fitting stage adds (installed ones only)."""
    return set(SMOKE.fit_bench.slow_renderers) & set(renderers.available())


def _forbid_runs(mp: pytest.MonkeyPatch) -> None:
    """Make every experiment / study runner raise if called."""
    def boom(*a, **k):
        raise AssertionError("an experiment ran although its results were saved")

    targets = [
        ("bench_softras.experiments.fitting", "run_fitting"),
        ("bench_softras.experiments.fit_bench", "run_fit_benchmark"),
        ("bench_softras.experiments.fitting", "run_ablations"),
        ("bench_softras.experiments.evaluate", "run_reconstruction"),
        ("bench_softras.studies.gradients", "run_gradient_study"),
        ("bench_softras.studies.gradients", "run_gradient_config"),
        ("bench_softras.studies.timing", "run_timing_study"),
        ("bench_softras.data", "build_synthetic"),
        ("bench_softras.experiments.examples", "fitting_examples"),
        ("bench_softras.experiments.examples", "recon_examples"),
        ("bench_softras.environment", "collect_environment"),
        ("bench_softras.main_job", "collect_environment"),
    ]
    for module, name in targets:
        mp.setattr(f"{module}.{name}", boom)


def test_report_files_and_embedded_figures(smoke):
    cfg, paths = smoke
    md, html = paths["markdown"].read_text(), paths["html"].read_text()
    assert paths["markdown"].parent == cfg.report_dir
    for name in FIGURES:
        png = cfg.report_dir / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"figures/{name}.png" in md
    # Self-contained HTML: every image is a base64 PNG, one per figure, nothing external.
    srcs = re.findall(r"<img [^>]*src='([^']*)'", html)
    assert len(srcs) == len(FIGURES)
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    for section in ("voxel IoU", "Mesh fitting", "Ablations (mesh fitting, softras)",
                    "Gradient accuracy", "Timing and scaling", "Environment"):
        assert section in md and section in html


def test_report_names_no_path_of_the_machine_that_built_it(smoke, tmp_path_factory):
    cfg, paths = smoke
    base = str(tmp_path_factory.getbasetemp())  # holds the results, reports and data cache
    files = [paths["markdown"], paths["html"], *sorted((cfg.report_dir / "data").glob("*.csv"))]
    for path in files:
        text = path.read_text()
        assert base not in text, path.name
    md = paths["markdown"].read_text()
    # The rebuild command and the data set are named relative to the run's roots.
    assert "`softras-bench report --from-results <results-root>/smoke`" in md
    assert "`<data-cache>/synthetic/" in md
    assert '"results_root": "<results-root>"' in md and '"reports_root": "<reports-root>"' in md


def test_voxel_iou_table_beside_the_paper(smoke):
    cfg, _ = smoke
    t = pd.read_csv(cfg.report_dir / "data" / "recon_voxel_iou.csv", dtype={"class_id": str})
    recon = pd.read_csv(cfg.results_dir / "reconstruction" / "recon_iou.csv",
                        dtype={"class_id": str})
    # The smoke data set holds airplane and chair; one row each plus the mean.
    assert list(t["category"]) == ["airplane", "chair", "mean"]
    # A column's name carries its runs' convergence flag, e.g. ``ours: n3mr
    # (undetermined)``: the smoke runs record three validation points.
    t = t.rename(columns=lambda c: c.split(" (")[0] if c.startswith("ours: ") else c)
    for r in ("template", *RENDERERS):
        assert f"ours: {r}" in t.columns
    paper = paper_table1().set_index("class_id")
    for cid in ("02691156", "03001627"):
        row = t[t["class_id"] == cid].iloc[0]
        assert row["paper: SoftRas (ShapeNet)"] == pytest.approx(paper.loc[cid, "SoftRas"])
        assert row["paper: N3MR (ShapeNet)"] == pytest.approx(paper.loc[cid, "N3MR"])
        ours = recon[(recon["class_id"] == cid) & (recon["renderer"] == "softras")]
        assert row["ours: softras"] == pytest.approx(ours["voxel_iou"].mean())
    mean = t[t["category"] == "mean"].iloc[0]
    assert mean["ours: softras"] == pytest.approx(t["ours: softras"][:2].mean())
    md = (cfg.report_dir / "report.md").read_text()
    assert "synthetic" in md and "paper" in md  # the data set is named


def test_report_names_the_generator_and_training_setup(smoke):
    cfg, paths = smoke
    md = paths["markdown"].read_text()
    # The smoke generator is none of the named ones: its sizes are stated.
    assert "Training: a custom generator (conv 8-16-32, FC 64-64, latent 32, decoder 64-64)" in md
    assert "batch 4 objects (two views each), 4 steps, Adam learning rate 0.0001, constant" in md


def test_training_setup_describes_each_schedule():
    from bench_softras.report.build import training_setup
    recon = {"image_size": 64, "batch_size": 32, "iterations": 2400, "lr": 1e-4,
             "sigma": 3e-5, "preset": "cpu", "decay_factor": 0.3, "lr_decay_at": 1440}
    step = training_setup({"config": {"generator": "g", "recon": recon}})
    assert "learning rate 0.0001, multiplied (with sigma) by 0.3 after step 1440;" in step
    cosine = training_setup({"config": {"generator": "g",
                                        "recon": {**recon, "lr_schedule": "cosine"}}})
    assert ("learning rate 0.0001, cosine-annealed to 0 at the last step (sigma multiplied "
            "by 0.3 after step 1440);") in cosine
    assert training_setup({}) == ""
    assert "chose" not in step  # a run without the reconstruction sweep
    tuned = training_setup({"config": {"generator": "g", "recon": recon,
                                       "recon_tuning": {"steps": 60}}})
    assert "each renderer trained at the learning rate and sigma its sweep" in tuned


def test_generator_labels():
    from bench_softras.settings import CPU, GENERATORS, PAPER, generator_label
    assert generator_label(PAPER.recon.model).startswith("the paper's generator (conv 64-128-256")
    assert generator_label(GENERATORS["light"]).startswith("the light generator (conv 32-64-128")
    assert generator_label(CPU.recon.model).startswith("the ")  # a named generator


def test_stage_tables(smoke):
    cfg, _ = smoke
    res = cfg.results_dir
    timing = pd.read_parquet(res / "timing" / "timing.parquet")
    assert list(timing.columns) == TIMING_COLUMNS
    assert {"softras", "softras_torch", "hard", "n3mr"} <= set(timing["renderer"])
    assert set(timing["pass"]) == {"forward", "backward", "forward+backward"}
    assert (timing["time_s"] > 0).all() and (timing["pairs_evaluated"] > 0).all()
    assert timing.loc[timing["renderer"] == "hard", "sigma"].isna().all()
    # The gradient and timing studies run every registered renderer, fitting every one
    # but its exclusions (issue 11); reconstruction every renderer but the slow references.
    every = set(renderers.available())
    fitted = every - set(STUDY_EXCLUDED["fitting"])
    assert {"dibr", "antialias", "edgegrad"} | set(RENDERERS) <= fitted
    fit = pd.read_csv(res / "fitting" / "fitting.csv")
    # Fitting runs every renderer, the installed slow references on their reduced budget.
    assert set(fit["renderer"]) == fitted
    assert fit_slow() <= fitted
    # Targets: the first test object of each category of the data set in use.
    assert set(fit["shape"]) == {"airplane_0", "chair_0"}
    assert set(zip(fit["shape"], fit["category"], strict=True)) == {
        ("airplane_0", "airplane"), ("chair_0", "chair")}
    grad = pd.read_csv(res / "gradients" / "gradient_accuracy.csv")
    fid = pd.read_csv(res / "gradients" / "forward_fidelity.csv")
    assert set(grad["renderer"]) == set(fid["renderer"]) == every
    # ... and timing its variant rows beside their renderer (softras[autodiff])
    assert every | set(TIMING_VARIANTS) == set(timing["renderer"])
    recon = pd.read_csv(res / "reconstruction" / "recon_iou.csv")
    assert set(recon["renderer"]) - {"template"} == set(RENDERERS)
    assert {"softras", "n3mr", "hard", "dibr", "antialias", "edgegrad"} <= set(RENDERERS)
    assert not set(RENDERERS) & set(renderers.names(slow=True, absent=True))
    # Each renderer trained at the settings its sweep on val objects chose (issue 19).
    choices = pd.read_csv(res / "reconstruction" / "recon_choices.csv")
    assert set(choices["renderer"]) == set(RENDERERS)
    swept = pd.read_csv(res / "reconstruction" / "recon_tuning.csv")
    assert set(swept["renderer"]) == set(RENDERERS) - {"hard"}
    assert set(swept["split"]) == {"val"}
    md = (cfg.report_dir / "report.md").read_text()
    assert "Per-renderer settings (a sweep on val objects)" in md
    assert "never the evaluated `test` split" in md
    families = pd.read_csv(cfg.report_dir / "data" / "renderer_families.csv")
    assert every | set(RENDERERS) <= set(families["renderer"])
    assert set(families["family"]) <= set(renderers.FAMILIES)
    assert "Renderer families" in (cfg.report_dir / "report.md").read_text()
    base = pd.read_csv(cfg.report_dir / "data" / "timing_base.csv")
    assert set(base["renderer"]) >= {"softras", "softras_torch", "hard", "n3mr"}
    for stage in STAGES:
        rec = json.loads((res / stage / "stage.json").read_text())
        assert rec["status"] == "done" and rec["wall_s"] >= 0
    run = json.loads((res / "run.json").read_text())
    assert run["stages"] == dict.fromkeys(STAGES, "ran")
    assert run["config"]["preset"] == "smoke" and run["config"]["seeds"] == [0]
    log = (res / "run.log").read_text()
    assert '"preset": "smoke"' in log  # the full configuration is logged as JSON
    env = json.loads((res / "environment.json").read_text())
    assert env["packages"]["torch"] and env["taichi_arch"] in ("cpu", "cuda")
    # The thread settings are part of the run's record (renderers.threads.settings).
    for rec in (run["config"]["threads"], env["threads"]):
        assert rec["threads"] >= 1 and rec["available_cores"] >= 1
        assert {"OMP_WAIT_POLICY", "taichi_threads", "passive_wait_effective"} <= set(rec)


def test_learning_curves_convergence_flags_and_validation_cost(smoke):
    cfg, _ = smoke
    md = (cfg.report_dir / "report.md").read_text()
    assert "Learning curves and convergence" in md
    assert threshold_sentence() in md  # the report states the threshold
    conv = pd.read_csv(cfg.report_dir / "data" / "recon_convergence.csv")
    assert set(conv["renderer"]) == set(RENDERERS) and set(conv["seed"]) == {0}
    assert set(conv["status"]) <= {"still improving", "still declining", "plateaued",
                                   "undetermined"}
    curve = (cfg.results_dir / "reconstruction" / "softras" / "seed_0" / "curve.jsonl")
    steps = [json.loads(x)["step"] for x in curve.read_text().splitlines()]
    assert steps == [0, 2, 4]  # smoke: val_every 2, 4 iterations
    for table in ("recon_runs", "recon_seeds", "fitting_final"):
        assert "convergence" in pd.read_csv(cfg.report_dir / "data" / f"{table}.csv")
    cost = pd.read_csv(cfg.report_dir / "data" / "recon_validation_cost.csv")
    assert (cost["val_s"] > 0).all() and (cost["train_s"] > 0).all()
    assert "Validation cost:" in md
    stages = pd.read_csv(cfg.report_dir / "data" / "stages.csv").set_index("stage")
    assert stages.loc["reconstruction", "train_s, all calls"] > 0
    html = (cfg.report_dir / "report.html").read_text()
    assert "<th>column</th>" not in html  # the per-seed table's stray pivot header


def test_paired_tables_and_generated_verdicts(smoke):
    cfg, _ = smoke
    per = pd.read_parquet(cfg.results_dir / "reconstruction" / "recon_per_object.parquet")
    # Every renderer on every test object (2 per category) and all 24 views.
    assert set(per["renderer"]) == set(RENDERERS)
    assert per.groupby("renderer").size().to_dict() == dict.fromkeys(RENDERERS, 2 * 2 * 24)
    md = (cfg.report_dir / "report.md").read_text()
    n_study = len(set(renderers.available()) - set(STUDY_EXCLUDED["fitting"]))
    for name, n_pairs in (("recon_paired", math.comb(len(RENDERERS), 2)),
                          ("fitting_paired", math.comb(n_study, 2))):
        t = pd.read_csv(cfg.report_dir / "data" / f"{name}.csv")
        overall = t[t["category"] == "overall"]
        assert len(overall) == n_pairs
        # One seed: no verdict, only indicative comparisons (docs/statistics.md).
        assert set(t["verdict"]) <= {"indicative", "no CI"}
        # The sentences in the report are the ones generated from the saved table.
        for sentence in verdict_sentences(t):
            assert sentence in md
    rec = pd.read_csv(cfg.report_dir / "data" / "recon_paired.csv")
    assert set(rec["category"]) == {"airplane", "chair", "overall"}
    fit = pd.read_csv(cfg.report_dir / "data" / "fitting_paired.csv")
    assert set(fit["category"]) == {"airplane", "chair", "overall"}  # stratified by category
    assert (rec["ci_low"] <= rec["difference"] + 1e-12).all()
    assert (rec["difference"] <= rec["ci_high"] + 1e-12).all()


def test_fitting_settings_tables_in_the_report(smoke):
    """Part 3 of issue 10: the chosen settings and the sweep are tables of the report,
    the sweep fitted only val objects, and each renderer has its generated sentence."""
    cfg, _ = smoke
    data = cfg.report_dir / "data"
    choices = pd.read_csv(data / "fit_choices.csv")
    fit = pd.read_csv(cfg.results_dir / "fitting" / "fitting.csv")
    assert set(choices["renderer"]) == set(fit["renderer"])
    row = choices.set_index("renderer")
    assert row.loc["softras", "chosen_by"] == "sweep"  # smoke grid: lr x1, x3
    assert any(row.loc["softras", "lr"] == pytest.approx(lr) for lr in (0.01, 0.03))
    assert row.loc["hard", "chosen_by"].startswith("preset values")
    assert row.loc["softras_torch", "lr"] == pytest.approx(row.loc["softras", "lr"])
    sweep = pd.read_csv(data / "fit_tuning_sweep.csv")
    assert set(sweep["renderer"]) == set(choices.loc[choices["chosen_by"] == "sweep",
                                                     "renderer"])
    assert sweep.groupby("renderer")["chosen"].sum().eq(1).all()
    tuning = pd.read_parquet(cfg.results_dir / "fitting" / "fit_tuning.parquet")
    assert tuning["target"].str.startswith("val/").all()
    md = (cfg.report_dir / "report.md").read_text()
    assert "Targets and per-renderer settings" in md and "data/fit_choices.csv" in md
    assert "`softras` fitted with learning rate" in md
    assert "Reconstruction does not reuse these choices" in md


def test_ablation_table_and_section(smoke):
    cfg, _ = smoke
    abl = pd.read_parquet(cfg.results_dir / "ablations" / "ablations.parquet")
    assert pd.read_csv(cfg.results_dir / "ablations" / "ablations.csv").shape == abl.shape
    assert {"variant", "sigma", "use_laplacian", "use_flatten", "num_views", "voxel_iou",
            "silhouette_iou", "steps", "wall_s"} <= set(abl.columns)
    # The smoke preset: its first fit shape, softras, two sigmas (1e-4 is the baseline's).
    assert set(abl["shape"]) == {"cube"} and set(abl["renderer"]) == {"softras"}
    assert list(abl["variant"]) == ["baseline", "sigma", "no laplacian", "no flatten",
                                    "4 views", "48 views", "color"]
    assert sorted(abl.loc[abl["variant"].isin(["baseline", "sigma"]), "sigma"]) == \
        pytest.approx([1e-4, 1e-3])
    row = abl.set_index("variant")
    assert not row.loc["no laplacian", "use_laplacian"] and row.loc["no laplacian", "use_flatten"]
    assert not row.loc["no flatten", "use_flatten"] and row.loc["no flatten", "use_laplacian"]
    assert row.loc["4 views", "num_views"] == 4 and row.loc["baseline", "num_views"] == 24
    assert row.loc["48 views", "num_views"] == 48
    assert (abl["steps"] == 6).all()
    assert abl[["voxel_iou", "silhouette_iou"]].stack().between(0, 1).all()
    # Only the colour variant fits colours (Sec. 4); it records the colour error.
    assert abl.loc[abl["variant"] != "color", "color_mse"].isna().all()
    assert row.loc["color", "color_weight"] == 1.0
    assert 0 < row.loc["color", "color_mse"] < 1 and 0 < row.loc["color", "color_mse_start"] < 1
    with np.load(cfg.results_dir / "ablations" / "color_views.npz") as z:
        assert z["target"].shape == z["fitted"].shape == (4, 3, 32, 32)
        assert z["fitted"].max() > 0 and z["target"].max() > 0
    shown = pd.read_csv(cfg.report_dir / "data" / "ablations.csv")
    assert len(shown) == len(abl)
    md = (cfg.report_dir / "report.md").read_text()
    assert "## Ablations (mesh fitting, softras)" in md and "data/ablations.csv" in md
    assert "Colour reconstruction" in md and "data/color_fit.csv" in md


def test_absent_optional_renderer_is_noted(smoke):
    cfg, _ = smoke
    notes = register_peers()
    if "pytorch3d_soft" not in notes:
        pytest.skip("pytorch3d is installed here, so nothing is absent")
    md = (cfg.report_dir / "report.md").read_text()
    assert "`pytorch3d_soft` (pytorch3d is not installed)" in md
    # Named in the summary and in every section that lists renderers.
    sections = md.split("\n## ")
    listing = [s for s in sections if s.startswith(("Single-view", "Mesh fitting", "Gradient",
                                                     "Timing", "Renderer families"))]
    assert len(listing) == 5
    for section in listing:
        assert "`pytorch3d_soft` (pytorch3d is not installed)" in section, section[:40]
    assert "Absent optional renderers" in md[:md.index("## Single-view")]


def test_rerun_skips_finished_stages(smoke, monkeypatch):
    cfg, _ = smoke
    monkeypatch.setenv(CACHE_ENV, str(cfg.results_dir.parent.parent / "cache"))
    _forbid_runs(monkeypatch)
    before = {s: (cfg.results_dir / s / "stage.json").read_text() for s in STAGES}
    run_main_job(cfg)
    run = json.loads((cfg.results_dir / "run.json").read_text())
    assert run["stages"] == dict.fromkeys(STAGES, "skipped")
    assert {s: (cfg.results_dir / s / "stage.json").read_text() for s in STAGES} == before


def test_rebuild_from_results_gives_the_same_tables(smoke, monkeypatch, tmp_path, capsys):
    cfg, _ = smoke
    _forbid_runs(monkeypatch)
    monkeypatch.setattr(main_job, "run_stage", lambda *a, **k: pytest.fail("stage ran"))
    out = tmp_path / "rebuilt"
    assert cli.main(["report", "--from-results", str(cfg.results_dir),
                     "--report-dir", str(out)]) == 0
    assert str(out / "report.md") in capsys.readouterr().out
    assert str(cfg.results_dir) not in (out / "report.md").read_text()
    original = sorted(p.name for p in (cfg.report_dir / "data").glob("*.csv"))
    assert sorted(p.name for p in (out / "data").glob("*.csv")) == original
    for name in original:
        assert (out / "data" / name).read_text() == \
            (cfg.report_dir / "data" / name).read_text(), name
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == \
        sorted(f"{f}.png" for f in FIGURES)


def test_changed_stage_config_reruns_only_that_stage(smoke, tmp_path):
    cfg, _ = smoke
    calls = []

    def fn(d):
        calls.append(d)
        p = d / "out.txt"
        p.write_text("x")
        return [p]

    res = tmp_path / "res"
    assert main_job.run_stage(res, "timing", {"a": 1}, fn)[0] == "ran"
    assert main_job.run_stage(res, "timing", {"a": 1}, fn)[0] == "skipped"
    assert main_job.run_stage(res, "timing", {"a": 2}, fn)[0] == "ran"
    (res / "timing" / "out.txt").unlink()  # a missing output re-runs the stage
    assert main_job.run_stage(res, "timing", {"a": 2}, fn)[0] == "ran"
    assert main_job.run_stage(res, "timing", {"a": 2}, fn, force=True)[0] == "ran"
    assert len(calls) == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"data_dir": "/nonexistent/shapenet"}, "data directory '/nonexistent/shapenet' does not "
                                            "exist"),
    ({"renderers": ("nope",)}, "unknown renderer 'nope'"),
    ({"categories": ("spaceship",)}, "unknown category 'spaceship'"),
    ({"stages": ("fitting", "baking")}, "unknown stage(s) ['baking']"),
    ({"preset": "huge"}, "unknown preset 'huge'"),
])
def test_bad_configuration_raises_clearly(tmp_path, kwargs, message):
    cfg = MainJobConfig(results_root=str(tmp_path / "r"), reports_root=str(tmp_path / "p"),
                        **kwargs)
    with pytest.raises(MainJobError) as err:
        run_main_job(cfg)
    assert message in str(err.value)
    assert not (tmp_path / "r").exists()  # nothing ran


def test_empty_data_dir_is_rejected(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = cli.main(["report", "--data-dir", str(tmp_path / "empty"), "--stages", "data",
                     "--results-root", str(tmp_path / "r"), "--reports-root",
                     str(tmp_path / "p"), "--no-progress"])
    assert code == 2
    assert "no *_train_images.npz files" in capsys.readouterr().err


def test_from_results_of_a_missing_directory(tmp_path, capsys):
    assert cli.main(["report", "--from-results", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_summary_comes_first_with_verdicts_budget_and_contents(smoke):
    cfg, paths = smoke
    md = paths["markdown"].read_text()
    assert md.index("## Summary") < md.index("## Single-view reconstruction")
    summary = md[md.index("## Summary"):md.index("## Single-view reconstruction")]
    run = json.loads((cfg.results_dir / "run.json").read_text())
    n = len(run["config"]["renderers"])  # every fast family by default (issue 19)
    assert n == len(renderers.names(slow=False))
    assert f"Budget: reconstruction: {n} renderers x 1 seed(s) x" in summary
    paired = pd.read_csv(cfg.report_dir / "data" / "recon_paired.csv")
    overall = paired[paired["category"] == "overall"]
    with_softras = (overall["a"] == "softras") | (overall["b"] == "softras")
    assert with_softras.sum() == n - 1  # the headline: softras against each other one
    for sentence in verdict_sentences(overall[with_softras]):
        assert sentence in summary  # the same generated sentences as the section's
    for sentence in verdict_sentences(overall[~with_softras]):
        assert sentence not in summary
    assert "Convergence: reconstruction runs" in summary
    assert "- [Mesh fitting](#mesh-fitting)" in summary  # the contents


def test_smoke_report_reads_well_in_a_browser(smoke):
    from browser_check import BROWSER_ENV, Browser, check_page, find_browser

    exe = find_browser()
    if exe is None:
        pytest.skip(f"no headless browser: install chromium (Debian: apt-get install "
                    f"chromium) or set {BROWSER_ENV}")
    _, paths = smoke
    with Browser(exe) as b:
        problems = check_page(b, paths["html"])
    assert not any(problems.values()), problems
