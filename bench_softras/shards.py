"""Sharding a sweep across machines: the one place that says which shard runs what and
how the shards' results are merged.

``--shard i/n`` (``softras-bench report``, ``train``, ``fit``, ``evaluate``) runs the
``i``-th of ``n`` slices of a sweep's independent *units* into a shared results root
(a file system every machine sees).  ``i`` is **1-based** (``1/4`` .. ``4/4``), as
Slurm's ``$SLURM_ARRAY_TASK_ID`` with ``--array=1-n``.

Units and partition.  A sweep lists its units in one canonical order: reconstruction
the template floor, then renderer x seed (renderers outer, seeds inner); fitting
target x renderer (targets outer); evaluation of given checkpoints one unit per
checkpoint.  Unit ``k`` (0-based position in that order) belongs to shard
``k % n + 1`` (round-robin, :func:`owner`), so shards get near-equal numbers of units
and the same command line always gives the same partition.

Stages that are a single unit (``gradients``, ``ablations``, ``timing``) run in shard
``1/n`` only (:data:`SINGLE_UNIT_SHARD`); ``examples`` draws on every unit's results and
runs only in an unsharded call (the final ``softras-bench report``); ``data`` is
resolved by every shard that needs it (a cached, content-checked build, written under
the data stage's own lock).

Bookkeeping, so two shards never rewrite one file (every file by temp-and-rename,
:mod:`bench_softras.atomic`):

* each unit writes its own tables and ``unit.json`` (:func:`write_unit`: its label,
  the hash of its configuration, its tables) in its own directory, under that
  directory's lock (:mod:`bench_softras.runlock`);
* each shard writes its plan, ``<stage dir>/shards/<i>_of_<n>.json``
  (:func:`write_plan`): every unit of the sweep with its key and owning shard, and the
  options that define the sweep (renderers, seeds, settings, the data's fingerprint);
* shards of one sweep must be given the same options: a shard whose options differ
  from those another shard of the sweep recorded is refused before it runs anything
  (:class:`ShardMismatchError`, one line naming the difference; the main job also
  checks its per-shard run records, :func:`check_sibling_options`);
* :func:`merge_units` concatenates, in the canonical order, the tables of the units of
  the newest plan whose ``unit.json`` carries the planned key, and names every other
  unit any shard of the sweep planned (``missing: reconstruction n3mr seed 1 (shard
  2/2 not run?)``; a shard that ran with other options is named with the difference).

An unsharded call is the sweep's only shard, ``1/1``; it also writes the stage's
combined tables, and the report reads those when the stage finished whole
(:func:`bench_softras.report.results.read_table`).

This module imports neither torch nor the renderers: the report imports it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd

from .atomic import write_json
from .errors import UserError
from .results_schema import stages_of
from .runs import read_json
from .safe_paths import contained

T = TypeVar("T")

#: The shard that runs the single-unit stages.
SINGLE_UNIT_SHARD = 1
#: Stages whose units are spread over the shards (shard kind ``units`` in the results
#: schema, :mod:`bench_softras.results_schema`, which the lists below also come from).
SHARDED_STAGES = stages_of("units")
#: Stages that are one unit: they run in shard :data:`SINGLE_UNIT_SHARD` only.
SINGLE_UNIT_STAGES = stages_of("single")
#: Stages that need every unit's results: they run only in an unsharded call.
MERGE_ONLY_STAGES = stages_of("merge")
UNIT_JSON = "unit.json"
PLANS_DIR = "shards"
_TIME = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based: ``1 <= index <= count``)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def file_stem(self) -> str:
        """``<i>_of_<n>``: the shard in file names."""
        return f"{self.index}_of_{self.count}"


#: An unsharded call: the only shard of its sweep.
WHOLE = Shard(1, 1)


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> :class:`Shard`; ``ValueError`` (one line, naming the fix) otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"shard: expected i/n (the i-th of n slices, 1-based, e.g. 2/4), "
                         f"got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"shard {text!r}: need 1 <= i <= n in i/n (shards are numbered "
                         "1..n, e.g. 1/4 .. 4/4)")
    return Shard(i, n)


def owner(position: int, count: int) -> int:
    """The shard (1-based) of the unit at 0-based ``position`` among ``count`` shards."""
    return position % count + 1


def select(items: Sequence[T], shard: Shard | None) -> list[T]:
    """The items of ``shard`` (all of them when ``shard`` is ``None``), in order."""
    if shard is None:
        return list(items)
    return [x for k, x in enumerate(items) if owner(k, shard.count) == shard.index]


def runs_stage(stage: str, shard: Shard | None) -> bool:
    """Whether a main-job call as ``shard`` (``None``: unsharded) runs ``stage``."""
    if shard is None:
        return True
    if stage in stages_of("single"):
        return shard.index == SINGLE_UNIT_SHARD
    return stage not in stages_of("merge")


# -- unit and plan records -----------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """One independent run of a sweep: ``label`` (for people, e.g. ``n3mr seed 1``),
    ``dir`` (its directory, relative to the stage's output directory) and ``key`` (the
    hash of its configuration)."""

    label: str
    dir: str
    key: str


def write_unit(stage_out: str | Path, unit: Unit, tables: dict[str, Path]) -> Path:
    """Record that ``unit`` finished, with its ``tables`` (name -> file), in
    ``<stage_out>/<unit.dir>/unit.json``."""
    base = Path(stage_out)
    contained(base, unit.dir)  # not through a symlink out of the stage directory
    rec = {"label": unit.label, "key": unit.key, "finished": time.strftime(_TIME),
           "tables": {k: str(Path(p).relative_to(base / unit.dir)) for k, p in tables.items()}}
    return write_json(base / unit.dir / UNIT_JSON, rec)


def read_unit(stage_out: str | Path, unit: Unit) -> dict | None:
    """``unit``'s record when it finished with its planned key and its tables exist.
    Its directory and tables must lie inside ``stage_out`` (:func:`unit_table`):
    :class:`~bench_softras.safe_paths.UnsafePathError` naming ``unit.json`` otherwise."""
    rec = _read_json(contained(stage_out, Path(unit.dir, UNIT_JSON)))
    if not rec or rec.get("key") != unit.key:
        return None
    tables = rec.get("tables", {})
    if not isinstance(tables, dict):
        return None
    if not all(unit_table(stage_out, unit, rec, name).is_file() for name in tables):
        return None
    return rec


class ShardMismatchError(UserError):
    """Shards of one sweep were given different options; the message names the
    difference and the fix."""


def unit_table(stage_out: str | Path, unit: Unit, rec: dict, name: str) -> Path:
    """The file of table ``name`` that ``unit``'s record ``rec`` (its ``unit.json``)
    names, resolved; :class:`~bench_softras.safe_paths.UnsafePathError` naming that
    ``unit.json`` when it leads outside ``stage_out``."""
    source = Path(stage_out) / unit.dir / UNIT_JSON
    return contained(stage_out, Path(unit.dir) / rec["tables"][name], source)


def write_plan(stage_out: str | Path, stage: str, shard: Shard | None,
               units: Sequence[Unit], options: dict | None = None) -> Path:
    """Write ``shard``'s plan of the sweep (every unit with its key and owner, and the
    sweep's ``options``, JSON-ready) to ``<stage_out>/shards/<i>_of_<n>.json``.  Raises
    :class:`ShardMismatchError` first when another shard of the same count planned the
    sweep with other options (or, without recorded options, other units)."""
    shard = shard or WHOLE
    mine = {"options": options, "units": [{"dir": u.dir, "key": u.key} for u in units]}
    for other in read_plans(stage_out):
        why = _plan_difference(other, mine) if _count(other) == shard.count and \
            other.get("shard") != str(shard) else ""
        if why:
            raise ShardMismatchError(
                f"{stage} shard {shard}: options differ from shard {other['shard']}'s "
                f"({why}, this shard's first); give every shard of a sweep the same options "
                f"(or remove {Path(stage_out) / PLANS_DIR} to start a new sweep)")
    rec = {"stage": stage, "shard": str(shard), "written": time.time(), "options": options,
           "units": [{"label": u.label, "dir": u.dir, "key": u.key,
                      "shard": owner(k, shard.count)} for k, u in enumerate(units)]}
    return write_json(Path(stage_out) / PLANS_DIR / f"{shard.file_stem}.json", rec)


def _count(plan: dict) -> int:
    """The shard count of a plan (``"i/n"`` -> ``n``; 0 when unreadable)."""
    try:
        return int(str(plan.get("shard", "")).split("/")[1])
    except (IndexError, ValueError):
        return 0


def _plan_difference(a: dict, b: dict) -> str:
    """How plan ``b`` differs from plan ``a``: :func:`option_differences` of their
    options when both recorded some, else whether they plan other units ("" when
    neither)."""
    if isinstance(a.get("options"), dict) and isinstance(b.get("options"), dict):
        return option_differences(a["options"], b["options"])
    return "other units planned" if _keys(a) != _keys(b) else ""


def option_differences(theirs: dict, mine: dict, limit: int = 3) -> str:
    """``"renderers ['hard'] vs ['hard', 'n3mr']; fit.steps 5 vs 10"``: the first
    ``limit`` options (dotted keys) whose values differ, ``mine`` first ("" when
    none; compared as JSON, so a tuple equals the list it is saved as)."""
    diffs = _differences(_as_json(theirs), _as_json(mine), "")
    more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(f"{k} {m!r} vs {t!r}" for k, t, m in diffs[:limit]) + more


def _as_json(value):
    return json.loads(json.dumps(value, default=str))


def _differences(a, b, prefix: str) -> list[tuple[str, object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [(prefix.rstrip("."), a, b)]


def check_sibling_options(records: dict[Shard, dict], shard: Shard, options: dict,
                          what: str = "main job") -> None:
    """Raise :class:`ShardMismatchError` when a record of another shard of ``shard``'s
    sweep (``records``: shard -> its recorded ``options``) differs from ``options``."""
    for other, theirs in sorted(records.items(), key=lambda kv: kv[0].index):
        if other.count != shard.count or other == shard or not isinstance(theirs, dict):
            continue
        why = option_differences(theirs, options)
        if why:
            raise ShardMismatchError(
                f"{what} shard {shard}: options differ from shard {other}'s ({why}, this "
                "shard's first); give every shard of a sweep the same options (--renderers, "
                "--seeds, --set, ...) or use another --run-id")


def _read_json(path: Path) -> dict | None:
    rec = read_json(path)
    return rec if isinstance(rec, dict) else None


def _plan_files(root: str | Path, pattern: str) -> list[Path]:
    """The files ``root/shards/<pattern>``, sorted; one that resolves outside ``root`` (a
    symlink pointing out) is refused (:func:`~bench_softras.safe_paths.contained`)."""
    found = sorted((Path(root) / PLANS_DIR).glob(pattern))
    for path in found:
        contained(root, Path(PLANS_DIR, path.name))
    return found


def read_plans(stage_out: str | Path) -> list[dict]:
    """Every readable plan under ``stage_out``, newest first.  A plan file that resolves
    outside ``stage_out``, or names a unit directory outside it, is refused
    (:class:`~bench_softras.safe_paths.UnsafePathError` naming the file)."""
    plans = []
    for path in _plan_files(stage_out, "*.json"):
        plan = _read_json(path)
        if plan and isinstance(plan.get("units"), list):
            for u in plan["units"]:
                contained(stage_out, u.get("dir") if isinstance(u, dict) else u, path)
            plans.append(plan)
    return sorted(plans, key=lambda p: -float(p.get("written", 0)))


def merge_units(stage_out: str | Path, table: str, reader=None
                ) -> tuple[pd.DataFrame | None, list[str]]:
    """``(table, missing)``: ``table`` of every finished unit of the newest plan,
    concatenated in the sweep's order (``None`` when none has it), and one line per
    unit not finished that the newest plan or any other shard of its sweep planned
    (:func:`missing_line`; a shard that planned it with other options is named, with
    the difference).  ``reader``: ``path -> DataFrame`` (default: Parquet, else CSV)."""
    plans = read_plans(stage_out)
    if not plans:
        return None, []
    newest = plans[0]
    n = _count(newest)
    siblings = {p["shard"]: p for p in reversed(plans) if _count(p) == n}
    frames, missing = [], []
    for u, plan in _planned_units(newest, siblings):
        unit = Unit(u["label"], u["dir"], u["key"])
        rec = read_unit(stage_out, unit)
        if rec is None:
            owner_plan = siblings.get(f"{u['shard']}/{n}")
            why = "" if owner_plan is None else (_plan_difference(newest, plan) or
                                                 _plan_difference(newest, owner_plan))
            missing.append(missing_line(newest.get("stage", "?"), unit.label,
                                        Shard(int(u["shard"]), n), owner_plan is not None,
                                        other_options=why))
            continue
        if plan is newest and table in rec["tables"]:
            frames.append((reader or _read_any)(unit_table(stage_out, unit, rec, table)))
    return (pd.concat(frames, ignore_index=True) if frames else None), missing


def _planned_units(newest: dict, siblings: dict[str, dict]) -> list[tuple[dict, dict]]:
    """``(unit, plan)``: the newest plan's units, then those only other shards of its
    sweep planned (each once, by directory and key)."""
    out = [(u, newest) for u in newest["units"]]
    seen = {(u.get("dir"), u.get("key")) for u in newest["units"]}
    for plan in siblings.values():
        for u in plan.get("units", []):
            if (u.get("dir"), u.get("key")) not in seen:
                seen.add((u.get("dir"), u.get("key")))
                out.append((u, plan))
    return out


def _keys(plan: dict) -> list:
    return [(u.get("dir"), u.get("key")) for u in plan.get("units", [])]


def missing_line(stage: str, label: str, shard: Shard, shard_started: bool,
                 other_options: str = "") -> str:
    """``missing: reconstruction n3mr seed 1 (shard 2/2 not run?)``; ``other_options``:
    how the options the unit's shard ran with differ from the newest plan's."""
    if other_options:
        why = f"shard {shard} ran with other options: {other_options}, its first"
    elif shard == WHOLE:
        why = "not run yet, or interrupted"
    elif shard_started:
        why = f"shard {shard} started but did not finish it"
    else:
        why = f"shard {shard} not run?"
    return f"missing: {stage} {label} ({why})"


def _read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"class_id": str})


# -- a main job's per-shard run records ------------------------------------------------
def shard_record_path(results_dir: str | Path, kind: str, shard: Shard) -> Path:
    """``<run dir>/shards/<kind>_<i>_of_<n>.json``: what shard ``shard`` of a main job
    writes instead of the shared ``<kind>.json`` (``run`` or ``environment``)."""
    return Path(results_dir) / PLANS_DIR / f"{kind}_{shard.file_stem}.json"


def shard_records(results_dir: str | Path, kind: str = "run") -> dict[Shard, dict]:
    """Every readable per-shard ``kind`` record of a main job (:func:`shard_record_path`),
    by shard."""
    out = {}
    for path in Path(results_dir, PLANS_DIR).glob(f"{kind}_*_of_*.json"):
        try:
            shard = parse_shard(path.stem.removeprefix(f"{kind}_").replace("_of_", "/"))
        except ValueError:
            continue
        if (rec := _read_json(path)) is not None:
            out[shard] = rec
    return out


def merged_run_record(results_dir: str | Path, kind: str = "run") -> dict | None:
    """The newest shard's ``kind`` record of a main job (``None`` when no shard wrote
    one); for ``run``, its ``stages`` say what every shard of the same count did
    (``ran (shard 1/2), skipped (shard 2/2)``) and its ``stage_wall_s`` sum the seconds
    those shards spent on each stage (shards that ran side by side: machine time, not
    elapsed time)."""
    found = sorted(_plan_files(results_dir, f"{kind}_*_of_*.json"),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    recs = [(p, r) for p in found if (r := _read_json(p)) is not None]
    if not recs:
        return None
    newest = dict(recs[0][1])
    if kind == "run":
        count = recs[0][0].stem.rsplit("_of_", 1)[1]
        stages: dict[str, list[str]] = {}
        walls: dict[str, float] = {}
        for p, r in sorted(recs, key=lambda pr: pr[0].name):
            if p.stem.rsplit("_of_", 1)[1] != count:
                continue
            i = p.stem.removeprefix(f"{kind}_").split("_of_")[0]
            for stage, status in (r.get("stages") or {}).items():
                stages.setdefault(stage, []).append(f"{status} (shard {i}/{count})")
            for stage, sec in (r.get("stage_wall_s") or {}).items():
                if isinstance(sec, (int, float)) and sec >= 0:
                    walls[stage] = walls.get(stage, 0.0) + float(sec)
        newest["stages"] = {s: ", ".join(v) for s, v in stages.items()}
        newest["stage_wall_s"] = walls
    return newest
