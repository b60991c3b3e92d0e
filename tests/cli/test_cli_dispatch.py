"""The softras-bench dispatcher: usage, unknown commands, dispatch to a command."""

from __future__ import annotations

import pandas as pd

from bench_softras import cli


# -- CLI --------------------------------------------------------------------------------
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
