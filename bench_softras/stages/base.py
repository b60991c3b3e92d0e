"""What every main-job stage is (:class:`Stage`), what it is given (:class:`StageContext`:
the resolved :class:`Plan` and the job's options) and the main job's error
(:class:`MainJobError`).

A stage is one module of :mod:`bench_softras.stages` holding one :class:`Stage` object,
plus its entry in the results schema (:mod:`bench_softras.results_schema`: its tables,
files and shard kind).  The main job (:mod:`bench_softras.main_job`) iterates the
registry (:func:`bench_softras.stages.ordered`); it knows no stage by name but ``data``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from bench_softras import results_schema
from bench_softras.errors import UserError
from bench_softras.settings import (
    AblationConfig,
    ExamplesConfig,
    FitConfig,
    GradientConfig,
    Preset,
    ReconConfig,
    TimingConfig,
)
from bench_softras.shards import Shard


class MainJobError(UserError):
    """A problem with the main job's configuration or inputs (bad preset, renderer,
    category, stage or data directory); the message says what to change."""


@dataclass
class Plan:
    """The resolved settings of every stage (validated :mod:`bench_softras.settings`
    configs); :meth:`gradient_config` / :meth:`ablation_config`: their stage records.
    ``sections``: the settings sections of stages not built in (a registered stage's,
    by its :attr:`Stage.section`)."""

    preset: Preset
    renderers: tuple[str, ...]
    class_ids: tuple[str, ...]
    seeds: tuple[int, ...]
    fit_shapes: tuple[str, ...]
    fit: FitConfig
    recon: ReconConfig
    gradients: GradientConfig
    timing: TimingConfig
    ablations: AblationConfig
    examples: ExamplesConfig
    #: Renderers of the gradient study, and of fitting (``main_job.plan_renderers``;
    #: timing's are ``timing.renderers``).
    study_renderers: tuple[str, ...] = ()
    fit_renderers: tuple[str, ...] = ()
    sections: dict[str, object] = field(default_factory=dict)

    def gradient_config(self) -> dict:
        """The gradient stage's configuration (JSON-ready)."""
        return {"renderers": list(self.study_renderers), **dataclasses.asdict(self.gradients),
                "seed": self.seeds[0]}

    def ablation_config(self) -> dict:
        """The ablation stage's configuration (JSON-ready): target shape, fit, ablations."""
        return {**dataclasses.asdict(self.ablations), "fit": dataclasses.asdict(self.fit)}

    def section(self, name: str) -> object:
        """The settings section ``name``: a field of the plan, else of ``sections``."""
        if name in self.sections:
            return self.sections[name]
        return getattr(self, name)


@dataclass(frozen=True)
class StageContext:
    """What a stage is given: the resolved ``plan``, the run directory
    (``results_dir``), the ``--data-dir`` given (``data_dir``; empty: the built-in
    synthetic data set), the data stage's record with its content ``fingerprint``
    (``data``; empty before the data stage ran or for a stage that needs no data),
    and the job's ``progress`` / ``force`` / ``shard`` options."""

    plan: Plan
    results_dir: Path
    data_dir: str = ""
    data: dict = field(default_factory=dict)
    progress: bool = False
    force: bool = False
    shard: Shard | None = None


class Stage:
    """One main-job stage.  A stage module subclasses this and sets:

    * ``name``: its name, the key of its :data:`~bench_softras.results_schema.SCHEMA`
      entry (its tables, files and shard kind) and its results folder;
    * ``section``: its settings section on the :class:`Plan` (``""``: none);
    * ``needs_data``: whether it reads the data set (the data stage then runs first);
    * ``configure_late``: whether its configuration reads the records of the stages
      before it, so is taken only when it is its turn;
    * ``settings_type``: for a stage whose ``section`` is not one of the preset's (a
      registered stage), its settings class, built with its defaults into
      :attr:`Plan.sections`;

    and implements :meth:`configure` (its configuration, JSON-ready: recorded in
    ``stage.json``, its hash decides whether a finished stage is reused) and
    :meth:`run` (writes the schema's tables to ``out_dir`` and returns the outputs to
    record); optionally :meth:`check` (refuse, before any stage runs, what it would
    refuse later) and :meth:`seconds` (its price for the progress estimate)."""

    name: str = ""
    section: str = ""
    needs_data: bool = False
    configure_late: bool = False
    settings_type: type | None = None

    @property
    def shard_kind(self) -> str:
        """Its shard kind (:data:`~bench_softras.results_schema.SHARD_KINDS`)."""
        return results_schema.SCHEMA[self.name].shard

    def recorded_settings(self, plan: Plan) -> dict:
        """Its settings as the run's configuration records them (``run.json``'s
        ``config``, JSON-ready, keyed by name): default ``{section: the plan's section}``
        (a dataclass as its dict; ``{}`` without a section).  The main job takes every
        stage's, in the registry's order, and names none by hand."""
        if not self.section:
            return {}
        return {self.section: settings_record(plan.section(self.section))}

    def portable_settings(self, plan: Plan, data_dir: str) -> dict:
        """Its settings as every shard of a sweep must be given them alike (the main
        job's ``sweep_options``, compared between shards): no path of this machine;
        ``data_dir``: the ``--data-dir`` given (empty: the synthetic data set).
        Default: :meth:`recorded_settings`."""
        return self.recorded_settings(plan)

    def check(self, plan: Plan) -> None:
        """Raise :class:`MainJobError` for what :meth:`run` would refuse (default:
        nothing to check)."""

    def configure(self, ctx: StageContext) -> dict:
        """The stage's configuration (JSON-ready; every input it reads by content)."""
        raise NotImplementedError

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """Run the stage into ``out_dir``; return the output paths to record."""
        raise NotImplementedError

    #: Seconds per planned unit of work (:meth:`units`), measured for the built-in
    #: stages with the ``cpu`` preset's end-to-end job on two idle cores (2026-12-05,
    #: 1677 s in all; docs/running.md).
    unit_seconds: float = 1.0

    def units(self, config: dict) -> float:
        """The units of work of its ``config`` (as recorded in ``stage.json``; default:
        one)."""
        return 1.0

    def seconds(self, config: dict) -> float:
        """Its price in seconds for the job's progress estimate
        (:mod:`bench_softras.job_progress`): :meth:`units` x :attr:`unit_seconds`."""
        return self.units(config) * self.unit_seconds


def settings_record(settings: object) -> object:
    """A settings section as recorded: a dataclass as its dict, anything else as is."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return dataclasses.asdict(settings)
    return settings


def outputs(stage: str, out_dir: Path) -> list[Path]:
    """The output paths of ``stage`` to record
    (:func:`~bench_softras.results_schema.stage_outputs`), then those of its optional
    files that exist in ``out_dir``."""
    optional = [out_dir / f for f in results_schema.SCHEMA[stage].optional
                if (out_dir / f).exists()]
    return [out_dir / f for f in results_schema.stage_outputs(stage)] + optional
