"""The summary of ``benchmarks/targets.py``: criteria, verdicts, the printed table and
its JSON/CSV files (no timing)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from target_table import (
    COLUMNS,
    MET,
    MISSED,
    NO_FIGURE,
    SKIPPED,
    Criterion,
    Row,
    format_rows,
    with_load,
    write_rows,
)

AT_MOST_3 = Criterion("<=", 3.0)
AT_LEAST_3 = Criterion(">=", 3.0)
SHARE = Criterion("<=", 0.15, "%")


def test_criterion_judges_both_directions_and_the_boundary():
    assert AT_MOST_3.met(2.9) and AT_MOST_3.met(3.0) and not AT_MOST_3.met(3.1)
    assert AT_LEAST_3.met(3.0) and AT_LEAST_3.met(12) and not AT_LEAST_3.met(2.99)
    assert str(AT_MOST_3) == "<= 3x" and str(Criterion(">=", 300.0)) == ">= 300x"
    assert str(SHARE) == "<= 15%" and SHARE.show(0.242) == "24.2%"
    assert AT_LEAST_3.show(2.614) == "2.61x"


@pytest.mark.parametrize("args", [("<", 3.0), ("<=", 0.0), ("<=", float("nan")),
                                  ("<=", 1.0, "ms")])
def test_criterion_refuses_bad_definitions(args):
    with pytest.raises(ValueError, match="criterion"):
        Criterion(*args)


def test_row_verdicts():
    assert Row("0/4", "a", AT_MOST_3, 2.5).verdict == MET
    assert Row("0/4", "a", AT_MOST_3, 5.1).verdict == MISSED
    assert Row("2", "b", AT_LEAST_3, 2.6).verdict == MISSED
    assert Row("4", "c", SHARE, 0.1).verdict == MET
    assert Row("2", "b", AT_LEAST_3, skip="git history missing").verdict == SKIPPED
    assert Row("2", "b", AT_LEAST_3).verdict == NO_FIGURE
    assert Row("2", "b", AT_LEAST_3, float("inf")).verdict == NO_FIGURE


def _rows():
    return [with_load(Row("0/4", "fwd+bwd softras | 2 busy torch", AT_MOST_3, 5.12,
                          detail="idle 50 ms, loaded 256 ms"), 3.5, 4.25),
            Row("4", "pytorch3d_soft / softras", Criterion(">=", 300.0),
                skip="pytorch3d not installed: see docs/renderers.md"),
            Row("4", "renderer share of the cpu step", SHARE, 0.242, 1.0, 1.5)]


def test_format_rows_shows_ratio_criterion_verdict_load_and_reasons():
    text = format_rows(_rows())
    lines = text.splitlines()
    torch_row = next(line for line in lines if "2 busy torch" in line)
    for cell in ("5.12x", "<= 3x", MISSED, "3.50 -> 4.25"):
        assert cell in torch_row
    assert "idle 50 ms, loaded 256 ms" in text
    p3d = next(line for line in lines if "pytorch3d_soft" in line)
    assert SKIPPED in p3d and "- -> -" in p3d
    assert "pytorch3d not installed: see docs/renderers.md" in text
    share = next(line for line in lines if "renderer share" in line)
    assert "24.2%" in share and "<= 15%" in share and MISSED in share
    assert lines[-1] == f"2 {MISSED}, 1 {SKIPPED}"


def test_write_rows_writes_json_and_csv(tmp_path):
    paths = write_rows(_rows(), tmp_path / "out", {"quick": True})
    assert [p.name for p in paths] == ["targets.json", "targets.csv"]
    doc = json.loads((tmp_path / "out" / "targets.json").read_text())
    assert doc["quick"] is True and len(doc["rows"]) == 3
    assert doc["rows"][0]["ratio"] == 5.12 and doc["rows"][0]["verdict"] == MISSED
    df = pd.read_csv(tmp_path / "out" / "targets.csv")
    assert list(df.columns) == COLUMNS
    assert list(df["verdict"]) == [MISSED, SKIPPED, MISSED]
    assert df.loc[1, "detail"].startswith("pytorch3d not installed")
    assert not list((tmp_path / "out").glob("*.tmp"))
