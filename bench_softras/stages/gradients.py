"""The ``gradients`` stage: gradient accuracy and forward fidelity vs sigma
(:func:`bench_softras.studies.gradients.run_gradient_config`).  One unit: shard 1."""

from __future__ import annotations

from pathlib import Path

from bench_softras.studies import gradients as gradient_study

from .base import Plan, Stage, StageContext, outputs


class GradientStage(Stage):
    """The gradient study over the study renderers (:data:`Plan.study_renderers`)."""

    name = "gradients"
    section = "gradients"
    unit_seconds = 7.7 / 63  #: 7.7 s for 63 renderer x sigma points

    def units(self, config: dict) -> float:
        """Renderer x sigma points."""
        return len(config.get("renderers") or []) * len(config.get("sigmas") or ())

    def recorded_settings(self, plan: Plan) -> dict:
        """``gradients``: :meth:`Plan.gradient_config` (its renderers and seed too)."""
        return {self.section: plan.gradient_config()}

    def configure(self, ctx: StageContext) -> dict:
        """:meth:`Plan.gradient_config`."""
        return ctx.plan.gradient_config()

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """Run the study and write its two tables."""
        plan = ctx.plan
        gradient_study.run_gradient_config(plan.gradients, plan.study_renderers,
                                           seed=plan.seeds[0], out_dir=out_dir,
                                           progress=ctx.progress)
        return outputs(self.name, out_dir)


STAGE = GradientStage()
