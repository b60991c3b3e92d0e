"""Reading the suite's append-only JSON-lines logs (``metrics.jsonl``, ``curve.jsonl``):
the one tolerant reader, used by resume, validation and the report.

A kill can cut the last line of an appended file; such a line (or any line that is not a
JSON object) is skipped with a warning naming the file and line, never a crash.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def read_records(path: str | Path) -> list[dict]:
    """The JSON objects of the ``.jsonl`` file ``path``, in order; ``[]`` when it is
    absent.  Blank lines are ignored; a line that is not a JSON object is skipped with a
    warning."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict):
            log.warning("%s: line %d is not a JSON record (cut off by an interruption?); "
                        "skipped: %.60r", path, number, line)
            continue
        records.append(rec)
    return records
