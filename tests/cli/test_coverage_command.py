"""``softras-bench coverage``: the simulation's tables and its ``--check``
(:mod:`bench_softras.commands.coverage`; the full size is ``nox -s coverage``)."""

from __future__ import annotations

import pytest

from bench_softras import cli
from bench_softras.commands.coverage import main

REPS = 2000


def test_the_command_line_checks_the_band(capsys):
    assert cli.main(["coverage", "--reps", str(REPS), "--bootstrap-reps", "1",
                     "--check"]) == 0
    out = capsys.readouterr().out
    assert "SD of the per-seed mean difference 0.0064" in out
    assert "within [0.93, 0.97] at 3 and 5 seeds" in out
    assert "pooled interval coverage (one object per category) at least 0.93" in out
    pooled = out.splitlines()[8:12]
    assert [line.split()[0] for line in pooled] == ["1", "2", "3", "5"]
    assert [line.split()[0] for line in out.splitlines()[2:6]] == ["1", "2", "3", "5"]


def test_too_few_replications_is_exit_2():
    with pytest.raises(SystemExit) as err:
        main(["--reps", "5"])
    assert err.value.code == 2
