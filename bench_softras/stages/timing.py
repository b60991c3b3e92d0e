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
    #: 25.1 s for 100,270 million pixel-face pairs over its sweep points.
    unit_seconds = 25.1 / 100_270

    def units(self, config: dict) -> float:
        """Pixel-face pairs (millions, ``batch x size^2 x faces``) over the timing study's
        one-factor-at-a-time sweep points, times renderers and calls per point."""
        fb = 20 * 4 ** int(config.get("base_subdivisions", 3))
        sb, hb = int(config.get("base_batch", 4)), int(config.get("base_image_size", 64))
        points = ([sb * hb * hb * 20 * 4 ** int(s) for s in config.get("subdivisions") or ()]
                  + [sb * int(h) ** 2 * fb for h in config.get("image_sizes") or ()]
                  + [int(b) * hb * hb * fb for b in config.get("batch_sizes") or ()]
                  + [sb * hb * hb * fb] * len(config.get("sigmas") or ()))
        calls = int(config.get("warmup", 1)) + int(config.get("repeats", 1))
        return sum(points) / 1e6 * len(config.get("renderers") or []) * calls

    def check(self, plan: Plan) -> None:
        """Some configuration of the sweep is under the cost cap."""
        try:
            timing_study.check_some_point_runs(plan.timing)
        except ConfigError as exc:
            raise MainJobError(str(exc)) from None

    def recorded_settings(self, plan: Plan) -> dict:
        """``timing``: its resolved settings (:meth:`TimingConfig.to_dict`)."""
        return {self.section: plan.timing.to_dict()}

    def configure(self, ctx: StageContext) -> dict:
        """The resolved timing settings."""
        return ctx.plan.timing.to_dict()

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """Run the study; its timing tables are recorded."""
        timing_study.run_timing_study(ctx.plan.timing, out_dir, progress=ctx.progress)
        return outputs(self.name, out_dir)


STAGE = TimingStage()
