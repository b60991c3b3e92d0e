"""The summary of ``nox -s bench`` (``benchmarks/targets.py``): one row per issue-22
target and item, its measured ratio, the criterion, met / missed / skipped, and the
load average before and after the measurement.

Pure code (no torch, no timing): :class:`Criterion`, :class:`Row`, :func:`format_rows`
(the printed table) and :func:`write_rows` (``targets.json`` and ``targets.csv``, each
written by temp-and-rename).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench_softras.atomic import write_json, write_table

#: Verdicts a row can have.
MET, MISSED, SKIPPED, NO_FIGURE = "met", "MISSED", "skipped", "no figure"
#: Columns of ``targets.csv`` (and keys of each row in ``targets.json``).
COLUMNS = ["target", "item", "ratio", "criterion", "verdict", "load_before", "load_after",
           "detail"]


@dataclass(frozen=True)
class Criterion:
    """``ratio op value``: ``op`` is ``"<="`` or ``">="``; ``unit`` ``"x"`` (a ratio)
    or ``"%"`` (a share, ``value`` as a fraction: 0.15 is 15%)."""

    op: str
    value: float
    unit: str = "x"

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">="):
            raise ValueError(f"criterion op must be '<=' or '>=', got {self.op!r}")
        if self.unit not in ("x", "%"):
            raise ValueError(f"criterion unit must be 'x' or '%', got {self.unit!r}")
        if not (isinstance(self.value, int | float) and math.isfinite(self.value)
                and self.value > 0):
            raise ValueError(f"criterion value must be a positive number, got {self.value!r}")

    def met(self, ratio: float) -> bool:
        """Whether ``ratio`` satisfies the criterion."""
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def show(self, ratio: float) -> str:
        """``ratio`` in this criterion's unit, e.g. ``2.41x`` or ``13.2%``."""
        return f"{ratio:.1%}" if self.unit == "%" else f"{ratio:.2f}x"

    def __str__(self) -> str:
        amount = f"{self.value:.0%}" if self.unit == "%" else f"{self.value:g}x"
        return f"{self.op} {amount}"


@dataclass(frozen=True)
class Row:
    """One line of the summary.  ``ratio``: the measured figure (``None`` when the row
    was skipped or could not be measured; ``skip`` then says why); ``load_before`` /
    ``load_after``: the 1-minute load average around the measurement; ``detail``: the
    times behind the ratio, in words."""

    target: str
    item: str
    criterion: Criterion
    ratio: float | None = None
    load_before: float | None = None
    load_after: float | None = None
    detail: str = ""
    skip: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """:data:`MET`, :data:`MISSED`, :data:`SKIPPED` (``skip`` given) or
        :data:`NO_FIGURE` (no ratio and no reason: a failed measurement)."""
        if self.skip:
            return SKIPPED
        if self.ratio is None or not math.isfinite(self.ratio):
            return NO_FIGURE
        return MET if self.criterion.met(self.ratio) else MISSED

    def record(self) -> dict:
        """The row as a JSON-ready dict (:data:`COLUMNS`, ``detail`` includes ``skip``)."""
        detail = f"{self.skip}; {self.detail}".strip("; ") if self.skip else self.detail
        return {"target": self.target, "item": self.item, "ratio": self.ratio,
                "criterion": str(self.criterion), "verdict": self.verdict,
                "load_before": self.load_before, "load_after": self.load_after,
                "detail": detail, **({"extra": self.extra} if self.extra else {})}


def with_load(row: Row, before: float | None, after: float | None) -> Row:
    """``row`` with its load averages set."""
    return dataclasses.replace(row, load_before=before, load_after=after)


def _cell(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def format_rows(rows: Sequence[Row]) -> str:
    """The summary table as text: target, item, measured ratio, criterion, verdict,
    load average before -> after, then each row's detail (or skip reason) below it."""
    w = max([len(r.item) for r in rows] + [20]) + 2
    head = f"{'target':<7}{'item':<{w}}{'measured':>10}  {'criterion':<10}{'verdict':<10}load"
    lines = [head, "-" * len(head)]
    for r in rows:
        shown = "-" if r.ratio is None else r.criterion.show(r.ratio)
        lines.append(f"{r.target:<7}{r.item:<{w}}{shown:>10}  {str(r.criterion):<10}"
                     f"{r.verdict:<10}{_cell(r.load_before)} -> {_cell(r.load_after)}")
        note = r.skip or r.detail
        if note:
            lines.append(f"{'':<9}{note}")
    counts = pd.Series([r.verdict for r in rows], dtype=object).value_counts()
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items()))
    return "\n".join(lines)


def write_rows(rows: Sequence[Row], out_dir: str | os.PathLike, meta: dict) -> list[Path]:
    """Write ``targets.json`` (``meta`` and the rows) and ``targets.csv`` (the rows,
    :data:`COLUMNS`) into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = [r.record() for r in rows]
    js = write_json(out / "targets.json", {**meta, "rows": records}, indent=1)
    df = pd.DataFrame([{k: rec[k] for k in COLUMNS} for rec in records], columns=COLUMNS)
    csv = write_table(df, out / "targets.csv")
    return [js, csv]
