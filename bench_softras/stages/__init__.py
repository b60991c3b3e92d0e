"""The main job's stages: one module per stage, each holding one
:class:`~bench_softras.stages.base.Stage` (name, settings section, whether it needs the
data, its configuration from the plan, its checks and its run function, which delegates
to the experiments' and studies' ``run_*``), and the one ordered registry the main job
iterates (:func:`ordered`).

The registry's order and each stage's tables, files and shard kind are the results
schema's (:data:`bench_softras.results_schema.SCHEMA`, torch-free, which
:mod:`bench_softras.runs` and :mod:`bench_softras.shards` iterate); the two are checked
to name the same stages.  Adding a stage: one module here (or anywhere, registered with
:func:`register`) and its schema entry; docs/architecture.md, "Adding a stage".
"""

from __future__ import annotations

from bench_softras import results_schema

from . import ablations, data, examples, fitting, gradients, reconstruction, timing
from .base import MainJobError, Plan, Stage, StageContext

__all__ = ["MainJobError", "Plan", "Stage", "StageContext", "get", "ordered", "register",
           "unregister"]

#: Stage name -> its :class:`Stage`, the built-in ones (the schema's order).
REGISTRY: dict[str, Stage] = {s.name: s for s in (
    data.STAGE, fitting.STAGE, reconstruction.STAGE, gradients.STAGE, ablations.STAGE,
    timing.STAGE, examples.STAGE)}

if tuple(REGISTRY) != results_schema.BUILT_IN:  # pragma: no cover (a wiring mistake)
    raise RuntimeError(f"the stage registry {tuple(REGISTRY)} and the results schema "
                       f"{results_schema.BUILT_IN} disagree")


def ordered() -> tuple[Stage, ...]:
    """Every registered stage, in the order the main job runs them (the schema's)."""
    return tuple(REGISTRY[name] for name in results_schema.stage_names())


def get(name: str) -> Stage:
    """The stage ``name`` (``KeyError`` naming the stages when there is none)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: "
                       f"{', '.join(results_schema.stage_names())}") from None


def register(stage: Stage, schema: results_schema.StageSchema) -> None:
    """Add ``stage`` after the others, with its results ``schema`` (same name);
    ``ValueError`` when the names differ or the name is taken."""
    if stage.name != schema.name:
        raise ValueError(f"stage {stage.name!r} given the schema of {schema.name!r}")
    results_schema.register(schema)
    REGISTRY[stage.name] = stage


def unregister(name: str) -> None:
    """Remove a stage added by :func:`register` (built-in stages stay)."""
    results_schema.unregister(name)
    REGISTRY.pop(name, None)
