"""The results schema: every main-job stage, in the order it runs, with the tables and
files it leaves under ``results/<run-id>/<stage>/`` and how it is sharded.

The one source of the results' file names: the producers (experiments, studies), the
main job (:mod:`bench_softras.main_job`, :mod:`bench_softras.stages`) and the report
(:mod:`bench_softras.report`) import them from here, none spells one out.

A *table* is a stem written as ``<stem>.csv`` and ``<stem>.parquet`` (the same rows;
:func:`csv_name` / :func:`parquet_name`); a *file* is any other output, named in full.
Shard kinds (:mod:`bench_softras.shards`): ``every`` (resolved by every shard that needs
it), ``units`` (its units are spread round-robin over the shards), ``single`` (one unit:
shard 1 only), ``merge`` (reads every unit's results: only an unsharded call).

This module imports nothing of the suite and neither torch nor the renderers: the
report and :mod:`bench_softras.runs` import it.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- table stems and file names, one constant each ---------------------------------------
#: ``data``: the stage's record of the data set (kind, dir, class ids, counts).
DATA_JSON = "data.json"
#: ``fitting``: every fit's curve, the tuning sweep, each renderer's settings, the targets.
FITTING = "fitting"
FIT_TUNING = "fit_tuning"
FIT_CHOICES = "fit_choices"
FIT_TARGETS = "fit_targets"
#: ``reconstruction``: IoU per renderer, seed and category, its summary (CSV only),
#: every object's IoU, the per-renderer settings sweep and the settings chosen.
RECON_IOU = "recon_iou"
RECON_IOU_SUMMARY = f"{RECON_IOU}_summary"  # also any stem's: summary_stem
RECON_PER_OBJECT = "recon_per_object"
RECON_TUNING = "recon_tuning"
RECON_CHOICES = "recon_choices"
#: ``gradients``: gradient accuracy and forward fidelity vs sigma.
GRADIENT_ACCURACY = "gradient_accuracy"
FORWARD_FIDELITY = "forward_fidelity"
#: ``ablations``: the ablation fits, and the colour fit's views (when it ran).
ABLATIONS = "ablations"
COLOR_VIEWS_NPZ = "color_views.npz"
#: ``timing``: the timings, the configurations skipped (CSV only), the study's notes.
TIMING = "timing"
TIMING_SKIPPED = "timing_skipped"
TIMING_NOTES_JSON = "timing_notes.json"
#: ``examples``: example silhouettes and meshes for the report.
EXAMPLES_NPZ = "examples.npz"

#: The shard kinds (module docstring).
SHARD_KINDS = ("every", "units", "single", "merge")


def csv_name(stem: str) -> str:
    """``<stem>.csv``."""
    return f"{stem}.csv"


def parquet_name(stem: str) -> str:
    """``<stem>.parquet``."""
    return f"{stem}.parquet"


def summary_stem(stem: str) -> str:
    """``<stem>_summary``: the per-category summary of an IoU table (CSV only)."""
    return f"{stem}_summary"


@dataclass(frozen=True)
class StageSchema:
    """One stage's outputs and shard kind (:data:`SHARD_KINDS`).

    ``tables``: stems, each written as CSV and Parquet (``required``: the ones a finished
    stage's record lists, default all); ``csv_only``: stems written as CSV only;
    ``files``: other files its record lists; ``optional``: files listed when present;
    ``extra``: files written but not listed."""

    name: str
    shard: str
    tables: tuple[str, ...] = ()
    required: tuple[str, ...] | None = None
    csv_only: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.shard not in SHARD_KINDS:
            raise ValueError(f"stage {self.name!r}: shard kind {self.shard!r} is not one of "
                             f"{SHARD_KINDS}")

    def required_tables(self) -> tuple[str, ...]:
        """The stems a finished stage must leave (default: every table)."""
        return self.tables if self.required is None else self.required


#: Every stage in the order the main job runs them (:func:`register` adds one).
SCHEMA: dict[str, StageSchema] = {s.name: s for s in (
    StageSchema("data", "every", files=(DATA_JSON,)),
    StageSchema("fitting", "units", tables=(FITTING, FIT_TUNING, FIT_CHOICES, FIT_TARGETS)),
    StageSchema("reconstruction", "units",
                tables=(RECON_IOU, RECON_TUNING, RECON_CHOICES, RECON_PER_OBJECT),
                required=(RECON_IOU, RECON_TUNING, RECON_CHOICES),
                csv_only=(RECON_IOU_SUMMARY,)),
    StageSchema("gradients", "single", tables=(GRADIENT_ACCURACY, FORWARD_FIDELITY)),
    StageSchema("ablations", "single", tables=(ABLATIONS,), optional=(COLOR_VIEWS_NPZ,)),
    StageSchema("timing", "single", tables=(TIMING,), csv_only=(TIMING_SKIPPED,),
                extra=(TIMING_NOTES_JSON,)),
    StageSchema("examples", "merge", files=(EXAMPLES_NPZ,)),
)}


def register(schema: StageSchema) -> None:
    """Add a stage's schema after the others (a stage not built in, e.g. a test's);
    ``ValueError`` when its name is taken."""
    if schema.name in SCHEMA:
        raise ValueError(f"stage {schema.name!r} is already in the results schema")
    SCHEMA[schema.name] = schema


def unregister(name: str) -> None:
    """Remove a stage added by :func:`register` (tests); built-in stages stay."""
    if name in BUILT_IN:
        raise ValueError(f"stage {name!r} is built in")
    SCHEMA.pop(name, None)


#: The built-in stages, in order.
BUILT_IN: tuple[str, ...] = tuple(SCHEMA)


def stage_names() -> tuple[str, ...]:
    """Every stage of the schema (built-in and registered), in order."""
    return tuple(SCHEMA)


def stages_of(kind: str) -> tuple[str, ...]:
    """The stages of shard ``kind`` (:data:`SHARD_KINDS`), in order."""
    return tuple(n for n, s in SCHEMA.items() if s.shard == kind)


def table_stage(stem: str) -> str:
    """The stage whose tables hold ``stem`` (``KeyError`` when none does)."""
    for name, s in SCHEMA.items():
        if stem in s.tables or stem in s.csv_only:
            return name
    raise KeyError(f"no stage writes a table {stem!r}")


def stage_outputs(name: str) -> tuple[str, ...]:
    """The file names a finished stage ``name``'s record lists (its required tables as
    CSV then Parquet, then its files), relative to its directory; the ``optional`` files
    are added by the stage when present."""
    s = SCHEMA[name]
    return (*(f(t) for t in s.required_tables() for f in (csv_name, parquet_name)), *s.files)
