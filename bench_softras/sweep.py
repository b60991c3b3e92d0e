"""The harness's sweep runner: a sharded stage lists its units, the runner does the rest.

An experiment gives :func:`run_sweep` its units in canonical order, each a
:class:`SweepUnit`: a :class:`~bench_softras.shards.Unit` (label, directory, key of its
settings) and ``run``, a function of no arguments that computes that one unit and returns
its tables (stem -> DataFrame; it may also write side files such as meshes under the
stage directory, never a table or a record).  The runner, the same way for every stage:

* writes this shard's plan of the sweep (:func:`~bench_softras.shards.write_plan`: every
  unit with its key and owner, and the sweep's ``options``; a shard given other options
  than its siblings is refused there);
* selects this shard's units (:func:`~bench_softras.shards.select`, round-robin);
* for each, under its directory's lock (:mod:`bench_softras.runlock`): reads the unit
  back when it finished with the same key (unless ``force``), else runs it, writes its
  tables (Parquet, :mod:`bench_softras.atomic`) and its ``unit.json``
  (:func:`~bench_softras.shards.write_unit`);
* in an unsharded call, merges every unit's tables of ``merge`` into the stage's combined
  tables (CSV and Parquet, :func:`~bench_softras.shards.merge_units`, the sweep's order).

A stage whose units are not all known up front declares its sweep as a
:class:`StageSweep` and hands it to :func:`run_stage_sweep`, which runs it in two phases:

1. the ``first`` units (a tuning sweep: the other units' keys hash its choices), in
   every shard that needs them, by :func:`run_unit_first` (the same lock, reuse and
   records, waiting for a shard that holds its lock);
2. ``main(first tables)``: the units listed from the first phase's merged tables, run
   by :func:`run_sweep` with the first units planned ahead of them (``run`` ``None``:
   not run again); then, in an unsharded recorded call, ``combine(main tables)``: the
   stage's combined tables, each a table of the stage's results schema
   (:mod:`bench_softras.results_schema`), written here (:func:`write_combined`).

An experiment lists units and computes, and writes no table; it imports this module,
never :mod:`bench_softras.shards` (:class:`Unit` and :class:`Shard` are re-exported here).

This module imports neither torch nor the renderers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .atomic import write_table
from .results_schema import SCHEMA, csv_name, parquet_name
from .runlock import run_lock
from .shards import (
    WHOLE,
    Shard,
    Unit,
    merge_units,
    owner,
    read_unit,
    select,
    write_plan,
    write_unit,
)

log = logging.getLogger(__name__)

__all__ = ["Combine", "ListMain", "Shard", "StageSweep", "SweepUnit", "Unit", "UnitRun",
           "run_stage_sweep", "run_sweep", "run_unit_first", "write_combined"]

#: A unit's computation: no arguments, its tables (stem -> DataFrame) back (``None``:
#: nothing to record, e.g. on a non-zero ``torchrun`` rank).
UnitRun = Callable[[], "dict[str, pd.DataFrame] | None"]


@dataclass(frozen=True)
class SweepUnit:
    """One unit of a sweep: its ``unit`` record (label, directory, key), ``run``
    (``None``: planned only, run first by :func:`run_unit_first`) and ``on_recorded``
    (called once its tables are recorded, e.g. to drop what only its computation read)."""

    unit: Unit
    run: UnitRun | None = None
    on_recorded: Callable[[], None] | None = None


#: The main units of a :class:`StageSweep` from its first phase's tables (each stem
#: concatenated over the first units, in order).
ListMain = Callable[[dict[str, pd.DataFrame]], Sequence[SweepUnit]]
#: A stage's combined tables (stem -> DataFrame, written without the index) from its
#: main units' tables (each stem concatenated over the units, in the sweep's order).
Combine = Callable[[dict[str, pd.DataFrame]], dict[str, pd.DataFrame]]


@dataclass(frozen=True)
class StageSweep:
    """A stage's sweep as its experiment lists it, run by :func:`run_stage_sweep`.

    ``stage``: its results-schema name; ``first``: the units run first, in every shard
    (module docstring); ``main``: lists the other units from the first phase's tables;
    ``options``: what the shards must agree on (the plan's ``options``); ``merge``: the
    unit stems merged into combined tables (:func:`run_sweep`); ``combine``: the other
    combined tables; ``reuse`` / ``lock_subdir``: as :func:`run_sweep`'s."""

    stage: str
    main: ListMain
    first: Sequence[SweepUnit] = ()
    options: dict = field(default_factory=dict)
    merge: Sequence[str] = ()
    combine: Combine | None = None
    reuse: bool = True
    lock_subdir: str = ""


def run_unit_first(out: str | Path, item: SweepUnit, shard: Shard | None = None, *,
                   position: int = 0, force: bool = False, record: bool = True,
                   lock_subdir: str = "",
                   on_recorded: Callable[[], None] | None = None) -> dict[str, pd.DataFrame]:
    """Run one unit of a sweep ahead of the others, whatever ``shard`` this is (every
    shard needs its result) and return its tables: under its directory's lock (waiting
    for a shard that holds it; ``record=False``: no lock, no record), read back when it
    finished with its key, else ``item.run()`` and its tables and ``unit.json`` written
    (``record``), then ``on_recorded()`` (e.g. dropping what only the computation read).
    ``force`` reruns it only in the shard that owns its ``position`` in the sweep
    (round-robin, :func:`~bench_softras.shards.owner`).  List it in :func:`run_sweep`'s
    units with ``run`` ``None``."""
    out = Path(out)
    me = shard or WHOLE
    rerun = force and me.index == owner(position, me.count)
    lock = (run_lock(out / item.unit.dir / lock_subdir, wait=True) if record
            else contextlib.nullcontext())
    with lock:
        tables = _run_unit(out, item, rerun, record, on_recorded or item.on_recorded)
    if tables is None:
        raise ValueError(f"unit {item.unit.label!r} run first returned no tables")
    return tables


def run_sweep(out: str | Path, stage: str, units: Sequence[SweepUnit], shard: Shard | None,
              *, options: dict, force: bool = False, merge: Sequence[str] = (),
              reuse: bool = True, record: bool = True, lock_subdir: str = ""
              ) -> list[dict[str, pd.DataFrame]]:
    """Run this ``shard``'s units of a sweep into the stage directory ``out`` (module
    docstring) and return their tables, in the sweep's order (a unit reused from an
    earlier call is read back from its Parquet files).  ``merge``: the stems combined
    into ``out/<stem>.csv|parquet`` in an unsharded call (``shard`` ``None``).

    ``reuse=False``: every unit of the slice runs (one that resumes by itself, e.g. from
    checkpoints); ``record=False``: no plan, lock, unit record or merge (a ``torchrun``
    rank other than 0, which computes with rank 0 but writes nothing); ``lock_subdir``:
    the lock's folder inside the unit's directory (default: the directory itself)."""
    out = Path(out)
    if record:
        write_plan(out, stage, shard, [u.unit for u in units], options=options)
    done: list[dict[str, pd.DataFrame]] = []
    for item in select(list(units), shard):
        if item.run is None:
            continue
        lock = (run_lock(out / item.unit.dir / lock_subdir) if record
                else contextlib.nullcontext())
        with lock:
            tables = _run_unit(out, item, force or not reuse, record, item.on_recorded)
        if tables is not None:
            done.append(tables)
    if shard is None and record:
        for stem in merge:
            table = merge_units(out, stem)[0]
            if table is None:  # no finished unit has it
                continue
            write_table(table, out / csv_name(stem))
            write_table(table, out / parquet_name(stem))
    return done


def run_stage_sweep(out: str | Path, sweep: StageSweep, shard: Shard | None, *,
                    force: bool = False, record: bool = True
                    ) -> list[dict[str, pd.DataFrame]]:
    """Run ``sweep`` into the stage directory ``out`` (module docstring): its first
    units (:func:`run_unit_first`, ``force`` by their owner shard only), then the main
    units it lists from their tables (:func:`run_sweep`), then, unsharded and
    ``record``, its ``combine`` tables written (:func:`write_combined`).  Returns this
    shard's main units' tables, in the sweep's order.  ``record=False``: nothing
    written (a ``torchrun`` rank other than 0); ``ValueError`` before anything runs when
    a ``merge`` stem is not a table of the stage's results schema."""
    _check_declared(sweep.stage, sweep.merge, csv_only=False)
    out = Path(out)
    first = [run_unit_first(out, item, shard, position=k, force=force, record=record,
                            lock_subdir=sweep.lock_subdir)
             for k, item in enumerate(sweep.first)]
    main = list(sweep.main(concat_tables(first)))
    done = run_sweep(out, sweep.stage, [SweepUnit(u.unit) for u in sweep.first] + main,
                     shard, options=sweep.options, force=force, merge=sweep.merge,
                     reuse=sweep.reuse, record=record, lock_subdir=sweep.lock_subdir)
    if shard is None and record and sweep.combine is not None:
        write_combined(out, sweep.stage, sweep.combine(concat_tables(done)))
    return done


def concat_tables(tables: Sequence[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Each stem of ``tables`` (one dict per unit) concatenated over the units that
    have it, in order (a new RangeIndex); a stem no unit has is absent."""
    stems = list(dict.fromkeys(stem for t in tables for stem in t))
    return {stem: pd.concat([t[stem] for t in tables if stem in t], ignore_index=True)
            for stem in stems}


def write_combined(out: str | Path, stage: str, tables: dict[str, pd.DataFrame]
                   ) -> list[Path]:
    """Write a stage's combined ``tables`` into its directory ``out``, each atomically
    (:mod:`bench_softras.atomic`) without the index, as its results schema declares it:
    a ``tables`` stem as CSV and Parquet, a ``csv_only`` stem as CSV; returns the paths.
    ``ValueError`` (nothing written) for a stem the schema does not declare."""
    _check_declared(stage, tables, csv_only=True)
    declared = SCHEMA[stage]
    out = Path(out)
    paths = []
    for stem, table in tables.items():
        names = ([csv_name(stem), parquet_name(stem)] if stem in declared.tables
                 else [csv_name(stem)])
        paths += [write_table(table, out / name) for name in names]
    return paths


def _check_declared(stage: str, stems, csv_only: bool) -> None:
    """``ValueError`` naming the ``stems`` that are not tables of ``stage``'s results
    schema (its ``tables``, and with ``csv_only`` its ``csv_only`` stems)."""
    declared = SCHEMA[stage]
    known = (*declared.tables, *(declared.csv_only if csv_only else ()))
    wrong = [s for s in stems if s not in known]
    if wrong:
        raise ValueError(f"stage {stage!r} would write tables its results schema does not "
                         f"declare: {', '.join(wrong)}")


def _run_unit(out: Path, item: SweepUnit, rerun: bool, record: bool,
              on_recorded: Callable[[], None] | None = None
              ) -> dict[str, pd.DataFrame] | None:
    """One unit, under its lock: read back when finished with its key (not ``rerun``),
    else run and (``record``) its tables and ``unit.json`` written, then
    ``on_recorded()``."""
    unit = item.unit
    rec = None if rerun else read_unit(out, unit)
    if rec is not None:
        log.info("unit %s: finished earlier with the same key, read back", unit.label)
        return {stem: pd.read_parquet(out / unit.dir / name)
                for stem, name in rec["tables"].items()}
    tables = item.run()
    if tables is not None and record:
        paths = {stem: write_table(table, out / unit.dir / parquet_name(stem))
                 for stem, table in tables.items()}
        write_unit(out, unit, paths)
        if on_recorded is not None:
            on_recorded()
    return tables
