"""What a report section is given (:class:`ReportInputs`) and the lines every section
shares (:func:`missing`, :func:`absent_note`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..document import Document
from ..paths import PathNamer


@dataclass(frozen=True)
class ReportInputs:
    """The saved results a section reads: the run directory (``results_dir``), its run
    record (``run``; ``cfg``: its configuration), every table of the results schema by
    its report key (``tables``, :func:`bench_softras.report.results.tables`; ``None``
    when absent or empty), the example arrays (``examples``), the reconstruction runs'
    logs (``logs``: ``curves`` / ``metrics``), how paths are shown (``namer``) and the
    renderers asked for but absent (``absent``: name -> why)."""

    results_dir: Path
    run: dict | None
    cfg: dict
    tables: dict[str, pd.DataFrame | None]
    examples: dict = field(default_factory=dict)
    logs: dict = field(default_factory=dict)
    namer: PathNamer | None = None
    absent: dict[str, str] = field(default_factory=dict)


def missing(doc: Document, stage: str) -> None:
    """The line of a section whose stage has no results."""
    doc.text(f"No results: the `{stage}` stage has not run (or its tables are missing or "
             "empty).")


def absent_note(doc: Document, absent: dict[str, str]) -> None:
    """One sentence naming the renderers the job could not run (every section that lists
    renderers carries it)."""
    if absent:
        doc.text("Not in this section: " + "; ".join(f"`{k}` ({v})" for k, v in absent.items())
                 + " (optional renderers, absent on the machine that ran the job).")
