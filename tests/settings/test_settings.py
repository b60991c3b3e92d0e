"""bench_softras.settings: one schema for every stage, validated once when a config is
built (with the renderers' own checks), and the main job's ``--set SECTION.FIELD=VALUE``
overrides, typed from the fields, recorded in run.json and in the stage hashes."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

import bench_softras.main_job as main_job
import bench_softras.settings as settings
from bench_softras import cli
from bench_softras.errors import ConfigError
from bench_softras.main_job import MainJobConfig, MainJobError, make_plan, run_main_job
from bench_softras.runs import config_hash
from bench_softras.settings import (
    DEFAULT_SIGMA,
    GRADIENT_SIGMAS,
    OFFICIAL_DEMO_SIGMA,
    PRESETS,
    SECTIONS,
    SIGMA_SWEEP,
    SMOKE,
    AblationConfig,
    ExamplesConfig,
    FitConfig,
    GradientConfig,
    ReconConfig,
    TimingConfig,
    apply_settings,
    parse_value,
    with_overrides,
)
from bench_softras.studies.gradients import run_gradient_config
from renderers.soft_math import DEFAULT_SIGMA as RENDERER_SIGMA


# -- one schema ---------------------------------------------------------------------------
def test_every_preset_has_every_section():
    assert set(PRESETS) == {"smoke", "cpu", "gpu", "paper"}
    for p in PRESETS.values():
        for section in SECTIONS:
            assert dataclasses.is_dataclass(getattr(p, section)), (p.name, section)


def test_sigma_defaults_refer_to_the_named_constants():
    assert DEFAULT_SIGMA is RENDERER_SIGMA  # the paper's, owned by renderers.soft_math
    assert ReconConfig().sigma == DEFAULT_SIGMA and TimingConfig().base_sigma == DEFAULT_SIGMA
    assert FitConfig().sigma == OFFICIAL_DEMO_SIGMA
    assert {DEFAULT_SIGMA, OFFICIAL_DEMO_SIGMA} <= set(SIGMA_SWEEP)
    assert TimingConfig().sigmas == AblationConfig().sigmas == SIGMA_SWEEP
    assert GradientConfig().sigmas == GRADIENT_SIGMAS
    # the smoke sweeps are subsets of the full ones
    for sub, full in ((SMOKE.timing.sigmas, SIGMA_SWEEP), (SMOKE.ablations.sigmas, SIGMA_SWEEP),
                      (SMOKE.gradients.sigmas, GRADIENT_SIGMAS)):
        assert set(sub) <= set(full)


def test_recon_and_fit_share_the_loss_fields():
    loss = {f.name for f in dataclasses.fields(settings.LossConfig)}
    assert {"sigma", "lambda_laplacian", "lambda_flatten", "use_laplacian", "use_flatten",
            "color_weight"} == loss
    assert issubclass(ReconConfig, settings.LossConfig)
    assert issubclass(FitConfig, settings.LossConfig)


# -- validation at the boundary -------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda: ReconConfig(sigma=0.0),
    lambda: FitConfig(sigma=-1.0),  # FitConfig did not check sigma before
    lambda: FitConfig(sigma=1e4),
    lambda: TimingConfig(base_sigma=math.nan),
    lambda: TimingConfig(sigmas=(1e-4, 1e6)),
    lambda: GradientConfig(sigmas=(math.inf,)),
    lambda: AblationConfig(sigmas=(-1.0,)),
])
def test_every_sigma_is_checked_by_the_renderers_rule(build):
    with pytest.raises(ConfigError) as err:
        build()
    msg = str(err.value)
    assert "sigma" in msg and ("SIGMA_RANGE" in msg or "finite" in msg)


@pytest.mark.parametrize("build, needle", [
    (lambda: FitConfig(image_size=5000), "MAX_IMAGE_PIXELS"),
    (lambda: FitConfig(image_size=(32, 32)), "must be an int"),
    (lambda: GradientConfig(image_size=0), "positive"),
    (lambda: TimingConfig(image_sizes=(32, True)), "must be an int"),
    (lambda: ExamplesConfig(fit_image_size=-4), "positive"),
    (lambda: ReconConfig(image_size=20), "multiple of 8"),
    (lambda: FitConfig(views_per_step=0), "views_per_step"),
    (lambda: FitConfig(steps=-1), "steps"),
    (lambda: AblationConfig(few_views=25), "few_views"),
    (lambda: GradientConfig(scenes=("teapot",)), "unknown scene"),
])
def test_bad_fields_fail_when_the_config_is_built(build, needle):
    with pytest.raises(ConfigError, match=needle):
        build()


def test_a_built_config_is_not_validated_again(monkeypatch):
    config = GradientConfig(scenes=("triangle",), sigmas=(OFFICIAL_DEMO_SIGMA,), image_size=16)
    assert with_overrides(config, image_size=16) is config  # nothing changed: same object
    calls = []
    for name in ("_check_sigmas", "_check_image_sizes", "_check"):
        real = getattr(settings, name)
        monkeypatch.setattr(settings, name,
                            lambda *a, _real=real, _n=name, **k: calls.append(_n) or _real(*a, **k))
    grad, fid = run_gradient_config(config, ["softras_torch", "hard"], progress=False)
    assert len(fid) == 2 and calls == []
    GradientConfig(scenes=("triangle",), image_size=16)  # a new config is checked
    assert "_check_sigmas" in calls and "_check_image_sizes" in calls


# -- --set ------------------------------------------------------------------------------
def test_parse_value_types_from_annotations():
    hints = {f: settings.typing.get_type_hints(FitConfig)[f] for f in ("steps", "betas")}
    assert parse_value("50", hints["steps"], "w") == 50
    assert parse_value("0.5, 0.9", hints["betas"], "w") == (0.5, 0.9)
    assert parse_value("no", bool, "w") is False and parse_value("TRUE", bool, "w") is True
    assert parse_value("", tuple[str, ...], "w") == ()
    with pytest.raises(ConfigError, match="expected an integer"):
        parse_value("1.5", int, "fit.steps")
    with pytest.raises(ConfigError, match="expected true or false"):
        parse_value("maybe", bool, "fit.use_flatten")


def test_apply_settings_changes_only_the_named_fields():
    p = apply_settings(SMOKE, ["recon.sigma=3e-4", "fit.steps=50", "timing.repeats=3",
                               "recon.model.latent=16", "ablations.sigmas=1e-4,1e-3",
                               "fit.use_flatten=false", "synthetic_data=cpu"])
    assert p.recon.sigma == 3e-4 and isinstance(p.recon.sigma, float)
    assert p.fit.steps == 50 and p.fit.use_flatten is False and p.timing.repeats == 3
    assert p.recon.model.latent == 16 and p.ablations.sigmas == (1e-4, 1e-3)
    assert p.synthetic_data == "cpu"
    assert p.gradients is SMOKE.gradients and p.examples is SMOKE.examples
    assert dataclasses.replace(p.recon, sigma=SMOKE.recon.sigma,
                               model=SMOKE.recon.model) == SMOKE.recon


@pytest.mark.parametrize("text, needle", [
    ("recon.sigmaa=1", "ReconConfig has no field 'sigmaa'"),
    ("rekon.sigma=1", "unknown section 'rekon'"),
    ("recon.sigma", "SECTION.FIELD=VALUE"),
    ("recon.sigma=abc", "expected a number"),
    ("recon.sigma=-1", "SIGMA_RANGE"),
    ("fit.betas=0.5", "expected 2 comma-separated values"),
    ("recon.model=3", "group of settings"),
    ("recon.device=cuda", "set it with --device"),
    ("seeds=1,2", "set it with --seeds"),
])
def test_bad_settings_raise_one_line(text, needle):
    with pytest.raises(ConfigError) as err:
        apply_settings(SMOKE, [text], reserved=main_job.JOB_OWNED)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg and msg.startswith("--set")


def test_set_reaches_each_stage_hash(tmp_path):
    base = MainJobConfig(preset="smoke", results_root=str(tmp_path / "r"),
                         reports_root=str(tmp_path / "p"))
    changed = dataclasses.replace(base, settings=("recon.sigma=3e-4", "timing.repeats=3"))
    p0, p1 = make_plan(base), make_plan(changed)
    assert p1.recon.sigma == 3e-4 and p1.timing.repeats == 3
    assert p1.recon.device == p1.timing.device == "cpu"  # job options still apply
    hashes = {}
    for name in ("fitting", "gradients", "timing"):
        hashes[name] = [config_hash(main_job.stage_config(base, p, name)) for p in (p0, p1)]
    data = {"dir": str(tmp_path)}
    hashes["reconstruction"] = [config_hash(main_job.stage_config(base, p, "reconstruction",
                                                                  data)) for p in (p0, p1)]
    assert {k for k, (a, b) in hashes.items() if a != b} == {"reconstruction", "timing"}
    bench = make_plan(dataclasses.replace(base, settings=("fit_bench.per_category=2",)))
    assert bench.preset.fit_bench.per_category == 2
    assert config_hash(main_job.stage_config(base, bench, "fitting")) != hashes["fitting"][0]


def test_cli_unknown_setting_exits_2_in_one_line(tmp_path, capsys):
    code = cli.main(["report", "--preset", "smoke", "--set", "fit.stepz=5", "--results-root",
                     str(tmp_path / "r"), "--reports-root", str(tmp_path / "p"),
                     "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "--set fit.stepz: FitConfig has no field 'stepz'" in err
    assert not (tmp_path / "r").exists()  # nothing ran, nothing recorded


def test_main_job_records_settings_and_reruns_the_changed_stage(tmp_path):
    def job(*sets: str) -> dict:
        cfg = MainJobConfig(preset="smoke", stages=("gradients",), progress=False,
                            results_root=str(tmp_path / "r"), reports_root=str(tmp_path / "p"),
                            renderers=("hard",), settings=("gradients.scenes=triangle",
                                                           "gradients.image_size=16", *sets))
        run_main_job(cfg)
        return json.loads((cfg.results_dir / "run.json").read_text())

    run = job()
    assert run["stages"] == {"gradients": "ran"}
    assert run["config"]["settings"] == ["gradients.scenes=triangle", "gradients.image_size=16"]
    assert run["config"]["gradients"]["scenes"] == ["triangle"]
    assert job()["stages"] == {"gradients": "skipped"}
    run = job("gradients.image_size=8")
    assert run["stages"] == {"gradients": "ran"} and run["config"]["gradients"]["image_size"] == 8
    with pytest.raises(MainJobError, match="no field 'sigmas2'"):
        job("gradients.sigmas2=1")



def test_plan_renderers_default_all_and_named():
    """Issue 11: by default reconstruction trains the preset's renderers while the
    gradient and timing studies run every registered renderer (timing also names the
    absent peers, to note them) and fitting every one but its exclusions; ``all`` and
    named renderers run everywhere; unknown names are one clear error."""
    import renderers
    from bench_softras.main_job import plan_renderers
    from bench_softras.settings import STUDY_EXCLUDED
    from renderers.peers import PEERS

    every = tuple(renderers.available())
    recon, studies = plan_renderers((), ("softras", "n3mr", "hard"))
    assert recon == ("softras", "n3mr", "hard")
    assert studies["gradients"] == every and set(studies["timing"]) == set(every) | set(PEERS)
    assert set(studies["fitting"]) == set(every) - set(STUDY_EXCLUDED["fitting"])
    assert {"dibr", "antialias", "edgegrad"} <= set(studies["fitting"])
    _, studies = plan_renderers(("all",), ("softras",))
    assert studies["gradients"] == studies["fitting"] == every
    recon, studies = plan_renderers(("hard", "dibr"), ("softras",))
    assert recon == studies["gradients"] == studies["fitting"] == ("hard", "dibr")
    assert studies["timing"] == ("hard", "dibr", "softras_torch", "pytorch3d_soft")
    with pytest.raises(MainJobError, match="nope"):
        plan_renderers(("nope",), ("softras",))
