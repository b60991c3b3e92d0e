"""The renderers' display order in the report's tables and figures.

The order is a fact each renderer declares (``order`` in :mod:`renderers.options`); the
report imports no renderer code, so it reads the order from ``renderers.json``, which
the main job writes (one row per renderer with its ``order``).  :func:`use_run` sets it
for the report being built; :func:`ordered` applies it: the ``template`` floor first,
then the renderers of the run in their declared order, then any other name
alphabetically (also the whole order of a run without ``renderers.json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path

from .results import read_families

#: The floor row of reconstruction (not a renderer): always first.
TEMPLATE = "template"

_ORDER: ContextVar[tuple[str, ...]] = ContextVar("renderer_display_order", default=())


def read_order(families: list | None) -> tuple[str, ...]:
    """Renderer names of ``renderers.json``'s rows sorted by their ``order`` (rows
    without one, from older runs, after the others in file order)."""
    rows = [r for r in families or () if isinstance(r, dict) and "renderer" in r]
    ranked = sorted(enumerate(rows), key=lambda ir: (
        not isinstance(ir[1].get("order"), int | float), ir[1].get("order") or 0, ir[0]))
    return tuple(str(r["renderer"]) for _, r in ranked)


def use_run(results_dir: str | Path) -> tuple[str, ...]:
    """Take the display order of the run in ``results_dir`` (its ``renderers.json``)
    for the report being built; returns it."""
    order = read_order(read_families(results_dir))
    _ORDER.set(order)
    return order


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` without repeats in display order (module docstring)."""
    names = list(dict.fromkeys(names))
    known = (TEMPLATE, *_ORDER.get())
    first = [n for n in known if n in names]
    return first + sorted(set(names) - set(first))
