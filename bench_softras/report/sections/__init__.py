"""The report's sections, one module per stage (``render(doc, inputs)``: that stage's
part of the report, read from :class:`~.base.ReportInputs` only, the tables by the
results schema's names), and their order in the report (:func:`ordered`).

A stage added to the main job (:mod:`bench_softras.stages`) adds its section with
:func:`register`; the report then renders it after the built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable

from ..document import Document
from . import ablations, fitting, gradients, reconstruction, timing
from .base import ReportInputs

#: A section: writes its stage's part of the report to the document.
Render = Callable[[Document, ReportInputs], None]

#: Stage -> its section, in report order (reconstruction, the headline, first).
SECTIONS: dict[str, Render] = {m.STAGE: m.render for m in (
    reconstruction, fitting, ablations, gradients, timing)}
BUILT_IN = tuple(SECTIONS)


def register(stage: str, render: Render) -> None:
    """Add the section of ``stage`` after the others (``ValueError`` if it has one)."""
    if stage in SECTIONS:
        raise ValueError(f"stage {stage!r} already has a report section")
    SECTIONS[stage] = render


def unregister(stage: str) -> None:
    """Remove a section added by :func:`register` (built-in ones stay)."""
    if stage in BUILT_IN:
        raise ValueError(f"the section of {stage!r} is built in")
    SECTIONS.pop(stage, None)


def ordered() -> tuple[tuple[str, Render], ...]:
    """``(stage, render)`` of every section, in report order."""
    return tuple(SECTIONS.items())
