"""Option values that used to be accepted and fail later (or only when their stage ran)
are refused up front: one line naming the option, exit status 2, nothing run or
recorded; the same values raise one ``ConfigError`` / ``MainJobError`` in the API."""

from __future__ import annotations

import numpy as np
import pytest

from bench_softras import cli
from bench_softras.data import CACHE_ENV, images_path, voxels_path
from bench_softras.errors import ConfigError
from bench_softras.main_job import MainJobConfig, MainJobError, make_plan
from bench_softras.settings import (
    SMOKE,
    FitConfig,
    ModelConfig,
    ReconConfig,
    TimingConfig,
    apply_settings,
)
from bench_softras.studies import timing


def _report(tmp_path, capsys, *argv: str) -> str:
    code = cli.main(["report", "--preset", "smoke", "--results-root", str(tmp_path / "r"),
                     "--reports-root", str(tmp_path / "p"), "--no-progress", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()  # nothing ran, nothing recorded
    return err


@pytest.mark.parametrize("setting, needles", [
    ("recon.lr=inf", ["recon.lr=inf", "finite"]),
    ("fit.lambda_laplacian=inf", ["lambda_laplacian=inf", "finite"]),
    ("recon.model.centroid_scale=nan", ["centroid_scale=nan", "finite"]),
    ("recon.betas=2,3", ["betas=(2.0, 3.0)", "[0, 1)"]),
    ("fit.betas=1.5,0.9", ["betas=(1.5, 0.9)", "[0, 1)"]),
    ("recon.eval_split=bogus", ["eval_split='bogus'", "'test'"]),
    ("synthetic_data=bogus", ["synthetic_data='bogus'", "'smoke'"]),
    ("fit.seed=-1", ["seed=-1", ">= 0"]),
    ("fit_bench.per_category=0", ["per_category=0", "--fit-shapes"]),
    ("timing.base_sigma=nan", ["base_sigma"]),
    ("fit_bench.lr_scales=1,inf", ["lr_scales", "finite"]),
])
def test_bad_set_values(tmp_path, capsys, no_work, setting, needles):
    err = _report(tmp_path, capsys, "--set", setting)
    for n in needles:
        assert n in err, err


def test_negative_seeds(tmp_path, capsys, no_work):
    err = _report(tmp_path, capsys, "--seeds", "0,-1")
    assert "--seeds" in err and ">= 0" in err


def test_configs_refuse_in_the_api():
    for make in (lambda: ReconConfig(lr=float("inf")), lambda: FitConfig(betas=(1.5, 0.9)),
                 lambda: ModelConfig(centroid_scale=float("nan")),
                 lambda: ReconConfig(eval_split="bogus"), lambda: FitConfig(seed=-1),
                 lambda: TimingConfig(seed=-2)):
        with pytest.raises(ConfigError):
            make()
    with pytest.raises(ConfigError, match="per_category=0"):
        apply_settings(SMOKE, ["fit_bench.per_category=0"])
    # with a fit shape the fitting benchmark has a target: accepted
    assert make_plan(MainJobConfig(preset="smoke", fit_shapes=("cube",),
                                   settings=("fit_bench.per_category=0",))).fit_shapes


def _mesh(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("argv, needles", [
    (["--fit-shapes", "cube,{tmp}/missing"], ["--fit-shapes", "missing", "no such mesh"]),
    (["--fit-shapes", "bogus"], ["--fit-shapes", "unknown shape 'bogus'"]),
    (["--fit-shapes", "{tmp}/nan.obj"], ["nan.obj", "NaN"]),
    (["--set", "ablations.shape={tmp}/t.txt"], ["ablations.shape", "t.txt", "'.txt'"]),
    (["--set", "ablations.shape=test/02691156/0"], ["ablations.shape", "data-set object"]),
    (["--set", "ablations.renderer=nope"], ["ablations.renderer", "unknown renderer 'nope'"]),
])
def test_targets_checked_before_any_stage(tmp_path, capsys, no_work, argv, needles):
    (tmp_path / "nan.obj").write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    (tmp_path / "t.txt").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    err = _report(tmp_path, capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    for n in needles:
        assert n in err, err


def test_all_capped_timing_refused_up_front(tmp_path, capsys, no_work):
    err = _report(tmp_path, capsys, "--renderers", "softras_torch", "--set",
                  "timing.max_dense_pairs=1")
    assert "timing.max_dense_pairs" in err and "over the cost cap" in err


def test_all_capped_timing_refused_in_the_api(tmp_path):
    cfg = TimingConfig(renderers=("softras_torch",), max_dense_pairs=1, subdivisions=(1,),
                       image_sizes=(32,), batch_sizes=(1,), sigmas=(), base_subdivisions=1,
                       base_image_size=32, base_batch=1)
    with pytest.raises(ConfigError, match=r"max_dense_pairs >= 81920"):
        timing.run_timing_study(cfg, tmp_path / "t", progress=False)
    assert not (tmp_path / "t").exists()
    # one renderer under the cap is enough
    assert timing.check_some_point_runs(
        TimingConfig(renderers=("softras_torch", "hard"), max_dense_pairs=1))[0]


def test_cache_env_naming_a_file(tmp_path, capsys, no_work, monkeypatch):
    (tmp_path / "f").write_text("")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "f"))
    err = _report(tmp_path, capsys)
    assert CACHE_ENV in err and "is a file" in err and "--results-root" not in err


def test_category_id_from_the_data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for split in ("train", "val", "test"):
        images_path(d, "99999999", split).write_bytes(b"")
        voxels_path(d, "99999999", split).write_bytes(b"")
    cfg = dict(preset="smoke", results_root=str(tmp_path / "r"),
               reports_root=str(tmp_path / "p"))
    plan = make_plan(MainJobConfig(categories=("99999999",), data_dir=str(d), **cfg))
    assert plan.class_ids == ("99999999",)
    with pytest.raises(MainJobError, match="unknown category '99999998'.*99999999"):
        make_plan(MainJobConfig(categories=("99999998",), data_dir=str(d), **cfg))
    with pytest.raises(MainJobError, match="unknown category '99999999'"):
        make_plan(MainJobConfig(categories=("99999999",), **cfg))  # synthetic data
    assert np.isfinite(plan.recon.lr)
