"""The ``examples`` stage: example silhouettes and meshes for the report
(:func:`bench_softras.experiments.examples.run_examples`), drawn from whatever of the
``fitting`` and ``reconstruction`` stages finished.  Needs every unit's results: runs
only in an unsharded call."""

from __future__ import annotations

from pathlib import Path

from bench_softras.experiments import examples

from .base import Stage, StageContext


class ExamplesStage(Stage):
    """The report's example figures' arrays."""

    name = "examples"
    section = "examples"
    needs_data = True
    configure_late = True  # its configuration holds the records of the stages before it

    def configure(self, ctx: StageContext) -> dict:
        """:func:`~bench_softras.experiments.examples.examples_config`."""
        return examples.examples_config(ctx.results_dir, ctx.data.get("dir"), ctx.plan.examples)

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """:func:`~bench_softras.experiments.examples.run_examples`."""
        return examples.run_examples(ctx.results_dir, out_dir, ctx.plan.examples)


STAGE = ExamplesStage()
