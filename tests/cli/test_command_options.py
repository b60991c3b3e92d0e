"""Every command takes ``--preset`` and ``--set`` from one definition
(:mod:`bench_softras.commands.options`), and the ``run_*`` functions take resolved
settings, never a preset name."""

from __future__ import annotations

import importlib

import pandas as pd
import pytest

from bench_softras import cli
from bench_softras.commands import options
from bench_softras.experiments import evaluate, fit_bench, fitting
from bench_softras.settings import PRESETS, SMOKE

#: Commands that use no experiment settings: ``renderers`` lists the registry,
#: ``coverage`` simulates a design of its own.
NO_SETTINGS = ("renderers", "coverage")


def _boom(*a, **k):
    raise AssertionError("an expensive stage ran before the input was checked")


@pytest.mark.parametrize("command", [c for c in cli.COMMANDS if c not in NO_SETTINGS])
def test_every_command_takes_preset_and_set(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--preset" in out and "--set SECTION.FIELD=VALUE" in out
    module = importlib.import_module(cli.COMMANDS[command][0])
    assert module.__name__.startswith("bench_softras.commands.")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_accepted_by_every_command(name):
    assert options.preset_arg(name) == name  # step-split once refused gpu


@pytest.mark.parametrize("argv, needles", [
    (["train", "--set", "recon.stepz=1"], ["--set recon.stepz", "no field 'stepz'"]),
    (["train", "--set", "recon.renderer=hard"], ["--set recon.renderer", "--renderer"]),
    (["evaluate", "--train", "--set", "recon.seed=3"], ["--set recon.seed", "--seeds"]),
    (["fit", "--set", "fit.steps=many"], ["--set fit.steps='many'", "integer"]),
    (["timing", "--preset", "huge"], ["unknown preset 'huge'"]),
    (["step-split", "--set", "nosection.x=1"], ["unknown section 'nosection'"]),
])
def test_bad_preset_or_set_is_one_line_exit_2(argv, needles, tmp_path, capsys, monkeypatch):
    for target in ("bench_softras.data.build_synthetic",
                   "bench_softras.experiments.train._train_locked",
                   "bench_softras.studies.timing.run_timing_study"):
        monkeypatch.setattr(target, _boom)
    out = ["--out", str(tmp_path / "o")] if argv[0] in ("timing", "step-split") else [
        "--out-dir", str(tmp_path / "o")]
    assert cli.main(argv + out + ["--no-progress"] * (argv[0] != "step-split")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_set_reaches_a_standalone_command(tmp_path):
    code = cli.main(["fit", "--preset", "smoke", "--set", "fit.steps=1",
                     "--set", "fit.record_every=1", "--set", "fit.image_size=16",
                     "--shapes", "cube", "--renderers", "hard", "--out-dir", str(tmp_path),
                     "--no-progress"])
    assert code == 0
    assert pd.read_csv(tmp_path / "fitting.csv")["step"].tolist() == [0, 1]


def test_run_functions_refuse_a_preset_name(tmp_path):
    with pytest.raises(TypeError, match="resolved Preset"):
        fit_bench.run_fit_benchmark(["hard"], "smoke", tmp_path, shapes=["cube"])
    with pytest.raises(TypeError, match="resolved Preset"):
        fitting.run_fitting(["cube"], ["hard"], "smoke", tmp_path)
    with pytest.raises(TypeError, match="resolved Preset"):
        evaluate.run_reconstruction("smoke", ["hard"], str(tmp_path), tmp_path)
    assert options.resolve_data_dir(tmp_path, SMOKE) == tmp_path
