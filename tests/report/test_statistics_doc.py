"""docs/statistics.md's recipe recomputes the report's interval from the report's own
data: its code block, run as written, against a report built by the test."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"

pytestmark = pytest.mark.slow


def recipe() -> str:
    """The Python block under "Recomputing a verdict" in docs/statistics.md."""
    text = DOC.read_text()
    section = text[text.index("## Recomputing a verdict"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_lines_reproduce_the_reports_interval(synthetic_report, capsys):
    _, report = synthetic_report
    scope = {"REPORT": report}
    exec(compile(recipe(), str(DOC), "exec"), scope)  # the documented lines, as written
    paired = pd.read_csv(report / "data" / "recon_paired.csv")
    row = paired[(paired["a"] == "softras") & (paired["b"] == "n3mr")
                 & (paired["category"] == "overall")].iloc[0]
    assert row["n_seeds"] == 3 and row["method"] == "seeds x objects (t)"
    assert (scope["low"], scope["high"], scope["df"]) == pytest.approx(
        (row["ci_low"], row["ci_high"], row["df"]), rel=1e-9)
    assert "softras - n3mr:" in capsys.readouterr().out


def test_the_per_object_data_is_the_per_view_results_averaged(synthetic_report):
    res, report = synthetic_report
    per = pd.read_csv(report / "data" / "recon_per_object.csv")
    raw = pd.read_parquet(res / "reconstruction" / "recon_per_object.parquet")
    assert list(per.columns) == ["renderer", "seed", "category", "object", "views",
                                 "voxel_iou"]
    assert len(per) == len(raw) // 3 and (per["views"] == 3).all()
    mean = raw.groupby(["renderer", "seed", "category", "object"])["voxel_iou"].mean()
    got = per.set_index(["renderer", "seed", "category", "object"])["voxel_iou"]
    assert got.to_numpy() == pytest.approx(mean.loc[got.index].to_numpy())
