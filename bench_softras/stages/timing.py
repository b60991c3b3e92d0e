"""The ``timing`` stage: :func:`bench_softras.studies.timing.run_timing_study` over the
plan's ``timing`` settings.  One unit: shard 1."""

from __future__ import annotations

from pathlib import Path

from bench_softras.errors import ConfigError
from bench_softras.studies import timing as timing_study

from .base import MainJobError, Plan, Stage, StageContext, outputs


class TimingStage(Stage):
    """Time every timing renderer over the study's sweep."""

    name = "timing"
    section = "timing"

    def check(self, plan: Plan) -> None:
        """Some configuration of the sweep is under the cost cap."""
        try:
            timing_study.check_some_point_runs(plan.timing)
        except ConfigError as exc:
            raise MainJobError(str(exc)) from None

    def configure(self, ctx: StageContext) -> dict:
        """The resolved timing settings."""
        return ctx.plan.timing.to_dict()

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """Run the study; its timing tables are recorded."""
        timing_study.run_timing_study(ctx.plan.timing, out_dir, progress=ctx.progress)
        return outputs(self.name, out_dir)


STAGE = TimingStage()
