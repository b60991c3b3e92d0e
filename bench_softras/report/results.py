"""The report's readers of a main-job results directory (``results/<run-id>/``, layout
and names in :mod:`bench_softras.runs`): tables, training logs, example arrays.

Every file is read only when it lies inside the run directory once symlinks are
resolved (:func:`bench_softras.safe_paths.contained`): a results directory from
elsewhere cannot make the report read another file of this machine.

A sharded stage (:mod:`bench_softras.shards`) that has not finished whole (no
``stage.json`` marked done, e.g. only shards ran) is read by merging its units' tables;
:func:`missing_units` names the units none of the shards finished.

Damaged results (results are data from elsewhere, e.g. a copy a team shares): a file
that cannot be read as what it should be (a Parquet file that is not one, a CSV cut
short or empty, a ``run.json`` that is not a JSON object, an ``examples.npz`` that is
not an archive or holds object arrays, read with ``allow_pickle=False``) raises
:class:`DamagedResultsError` naming the file and the fix (the CLI: one line, exit
status 2).  A table that reads but has no rows is not damaged: :func:`read_table`
returns it, and the report says it is empty (:func:`empty_tables`).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench_softras import results_schema as schema
from bench_softras.errors import UserError
from bench_softras.jsonl import read_records
from bench_softras.runs import (
    EXAMPLES_NPZ,
    RECON_RUNS_GLOB,
    RENDERERS_JSON,
    RUN_JSON,
    SEED_PREFIX,
    STAGE_JSON,
    stage_dir,
)
from bench_softras.safe_paths import check_run_id, contained
from bench_softras.shards import PLANS_DIR, SHARDED_STAGES, merge_units, merged_run_record

#: The report's key of the reconstruction IoU table (every other table's key is its stem).
RECON = "recon"


def table_key(stem: str) -> str:
    """The report's key of table ``stem`` (its stem; :data:`RECON` for ``recon_iou``)."""
    return RECON if stem == schema.RECON_IOU else stem


def tables() -> dict[str, tuple[str, str]]:
    """Key -> ``(stage, stem)`` of every table of the results schema (its stages in
    order; a registered stage's too)."""
    return {table_key(stem): (name, stem) for name, s in schema.SCHEMA.items()
            for stem in s.tables}


#: Key -> (stage, stem) of every table a report reads (the built-in stages').
TABLES = tables()


class DamagedResultsError(UserError):
    """A saved result file cannot be read as what it should be; the message names the
    file and the fix."""


def damaged(path: str | Path, why: str) -> DamagedResultsError:
    """The :class:`DamagedResultsError` of ``path`` (``why``: what is wrong with it); the
    fix names the stage when ``path`` lies in a stage's directory."""
    path = Path(path)
    stage = next((p for p in reversed(path.parent.parts) if p in schema.stage_names()), None)
    rerun = (f"rerun the {stage} stage (the run's command with --stages {stage} --force)"
             if stage else "rerun the job (the run's command)")
    return DamagedResultsError(f"{path}: {why}; the results file is damaged: restore it "
                               f"from a good copy, or {rerun}")


def _parquet_errors() -> tuple[type[BaseException], ...]:
    try:
        import pyarrow

        return (OSError, ValueError, pyarrow.ArrowException)
    except ImportError:  # pragma: no cover - pandas then reads Parquet another way
        return (OSError, ValueError)


def read_table_file(path: Path) -> pd.DataFrame:
    """A Parquet or CSV table (``class_id`` read as strings);
    :class:`DamagedResultsError` when it is not a readable table (a CSV must end with a
    newline: the writer always ends it so, a file cut short does not)."""
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except _parquet_errors() as exc:
            raise damaged(path, f"not a readable Parquet table ({type(exc).__name__})"
                          ) from None
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        raise damaged(path, "the CSV table is empty or cut short (no final newline)")
    try:
        return pd.read_csv(path, dtype={"class_id": str})
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise damaged(path, f"not a readable CSV table ({type(exc).__name__})") from None


def read_run_record(results_dir: str | Path) -> dict | None:
    """The run's newest record: its ``run.json`` or the shards' merged run record
    (:func:`~bench_softras.shards.merged_run_record`), whichever was ``updated`` last
    (sharded calls that added seeds to a run an unsharded call finished are newer than
    its ``run.json``, and their record says what they ran); ``None`` when neither exists."""
    own = read_record(run_file(results_dir, RUN_JSON))
    shards = merged_run_record(results_dir)
    if own is None or shards is None:
        return own or shards
    return shards if _updated(shards) > _updated(own) else own


def _updated(record: dict) -> str:
    """A run record's ``updated`` time (ISO 8601 text, so that text order is time
    order), ``""`` when it has none (records are data)."""
    value = record.get("updated")
    return value if isinstance(value, str) else ""


def run_id_of(results_dir: str | Path, run: dict | None) -> str:
    """The run id of the run record ``run`` (:func:`read_run_record`), else the name of
    ``results_dir``; either must be one safe folder name
    (:func:`~bench_softras.safe_paths.check_run_id`: ``UnsafePathError`` naming the
    file it came from), since it names the report's folder."""
    recorded = (run or {}).get("run_id")
    if recorded:
        own = read_record(run_file(results_dir, RUN_JSON)) or {}
        from_json = own.get("run_id") == recorded
        return check_run_id(recorded, Path(results_dir) / (RUN_JSON if from_json else
                                                           f"{PLANS_DIR}/run_*.json"))
    return check_run_id(Path(results_dir).resolve().name, results_dir)


def read_table(results_dir: str | Path, key: str) -> pd.DataFrame | None:
    """Table ``key`` of :data:`TABLES` (Parquet, else CSV), or ``None`` when absent.
    ``class_id`` columns are read as strings.  :class:`DamagedResultsError` names a
    file that is not a readable table; a table without rows is returned as it is."""
    stage, stem = tables()[key]
    d = stage_dir(results_dir, stage)
    parquet, csv = (run_file(results_dir, d / name(stem)) for name in (schema.parquet_name,
                                                                      schema.csv_name))
    if _merged(results_dir, stage):
        df = merge_units(run_file(results_dir, d), stem)[0]
        if df is None:
            return None
    elif parquet.is_file():
        df = read_table_file(parquet)
    elif csv.is_file():
        df = read_table_file(csv)
    else:
        return None
    if "class_id" in df.columns:
        df["class_id"] = df["class_id"].astype(str)
    return df


def empty_tables(tables: dict[str, pd.DataFrame | None]) -> list[str]:
    """The keys of ``tables`` whose table was read but has no rows (e.g. a timing study
    whose every configuration was over the cost cap)."""
    return [k for k, t in tables.items() if t is not None and t.empty]


def read_record(path: str | Path, kind: type = dict) -> dict | list | None:
    """A JSON record of the run (``run.json``, ``environment.json``, ...): ``None``
    when absent, else its content, which must be a ``kind`` (``dict``: a JSON object;
    ``list``: an array); :class:`DamagedResultsError` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise damaged(path, f"not readable JSON ({type(exc).__name__})") from None
    if not isinstance(value, kind):
        what = "a JSON object" if kind is dict else "a JSON array"
        raise damaged(path, f"holds a JSON {type(value).__name__}, not {what}")
    return value


def run_file(results_dir: str | Path, path: str | Path) -> Path:
    """``path`` (relative to ``results_dir``, or a path under it as globbed there)
    resolved, when it stays inside the run directory; else
    :class:`~bench_softras.safe_paths.UnsafePathError` naming it.  The report reads
    every file of a run directory through here."""
    path = Path(path)
    if path.is_relative_to(results_dir):
        path = path.relative_to(results_dir)
    return contained(results_dir, path)


def read_stage(results_dir: str | Path, stage: str) -> dict | None:
    """``<stage>/stage.json`` of the run (:func:`read_record`: ``None`` when absent,
    :class:`DamagedResultsError` naming it when it is not a JSON object)."""
    return read_record(run_file(results_dir, stage_dir(results_dir, stage) / STAGE_JSON))


def read_families(results_dir: str | Path) -> list[dict] | None:
    """The run's ``renderers.json`` (one object per renderer, each naming its
    ``renderer``), ``None`` when absent; :class:`DamagedResultsError` naming the file
    when it is not an array of such objects."""
    path = run_file(results_dir, RENDERERS_JSON)
    rows = read_record(path, list)
    if rows is not None and not all(isinstance(r, dict) and isinstance(r.get("renderer"), str)
                                    for r in rows):
        raise damaged(path, "not every entry is an object naming its renderer")
    return rows


def _merged(results_dir: str | Path, stage: str) -> bool:
    """Whether ``stage`` is read from its units: a sharded stage not finished whole."""
    rec = read_stage(results_dir, stage)
    done = isinstance(rec, dict) and rec.get("status") == "done"
    return stage in SHARDED_STAGES and not done


def missing_units(results_dir: str | Path) -> list[str]:
    """``missing: <stage> <unit> (<why>)`` for every planned unit of a sharded stage
    that no shard finished (none for a stage that finished whole)."""
    return [line for stage in SHARDED_STAGES if _merged(results_dir, stage)
            for line in merge_units(stage_dir(results_dir, stage), "")[1]]


def read_run_logs(results_dir: str | Path, name: str) -> pd.DataFrame | None:
    """Every reconstruction run's ``name`` file (``curve.jsonl``: validation curve;
    ``metrics.jsonl``: training loss per log step) as one table with ``renderer`` and
    ``seed`` columns (from ``reconstruction/<renderer>/seed_<s>/``), or ``None`` when
    no run has one."""
    frames = []
    for path in sorted(stage_dir(results_dir, "reconstruction").glob(f"{RECON_RUNS_GLOB}/{name}")):
        recs = read_records(run_file(results_dir, path))
        seed = path.parent.name.removeprefix(SEED_PREFIX)
        if not recs or not seed.isdigit():
            continue
        df = pd.DataFrame(recs)
        df.insert(0, "seed", int(seed))
        df.insert(0, "renderer", path.parent.parent.name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None


def read_examples(results_dir: str | Path) -> dict[str, np.ndarray]:
    """The arrays of the ``examples`` stage
    (:func:`bench_softras.experiments.examples.compute_examples`), or an empty dict when the
    stage has not run.  :class:`DamagedResultsError` names a file that is not an
    archive of numeric arrays (object arrays are refused: ``allow_pickle=False``)."""
    path = run_file(results_dir, stage_dir(results_dir, "examples") / EXAMPLES_NPZ)
    if not path.is_file():
        return {}
    errors = (OSError, ValueError, EOFError, zipfile.BadZipFile)
    try:
        archive = np.load(path, allow_pickle=False)
    except errors:  # not an archive (np.load then sees a pickle: refused), cut short
        raise damaged(path, "not a readable .npz archive of numeric arrays") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise damaged(path, "a single .npy array, not a .npz archive")
    with archive:
        try:
            return {k: archive[k] for k in archive.files}
        except ValueError as exc:
            why = ("holds object arrays (read without allow_pickle)" if "allow_pickle" in
                   str(exc) else "a member is not a readable numeric array")
            raise damaged(path, why) from None
        except (OSError, EOFError, zipfile.BadZipFile):
            raise damaged(path, "a member of the archive is cut short or damaged") from None
