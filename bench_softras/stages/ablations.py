"""The ``ablations`` stage: the paper's ablations (sigma sweep, no Laplacian, no
flattening, fewer or more training views, colour reconstruction) as mesh fits of one
mesh target (the preset's ``ablations.shape``, or the first ``--fit-shapes``) with
``ablations.renderer`` (:func:`bench_softras.experiments.fitting.run_ablations`).  One
unit: shard 1."""

from __future__ import annotations

from pathlib import Path

from bench_softras.experiments import fitting
from bench_softras.experiments.renderer_choice import ensure_registered

from .base import MainJobError, Plan, Stage, StageContext, outputs
from .fitting import check_target


class AblationStage(Stage):
    """The ablation fits of the plan's ablation target."""

    name = "ablations"
    section = "ablations"
    unit_seconds = 10.5 / 1200  #: 10.5 s for 10 fits x 120 steps

    def units(self, config: dict) -> float:
        """Optimisation steps of its fits (one per sigma, five more)."""
        fit = config.get("fit") or {}
        return (len(config.get("sigmas") or ()) + 5) * int(fit.get("steps") or 0)

    def check(self, plan: Plan) -> None:
        """The target is a mesh target that resolves and the renderer is registered."""
        where = "--fit-shapes (its first target is the ablations')" if plan.fit_shapes else \
            "ablations.shape"
        check_target(plan.ablations.shape, where, data_objects=False)
        try:
            ensure_registered(plan.ablations.renderer)
        except KeyError as exc:
            raise MainJobError(f"ablations.renderer: {exc.args[0]}") from None

    def recorded_settings(self, plan: Plan) -> dict:
        """``ablations``: :meth:`Plan.ablation_config` (the fit settings too)."""
        return {self.section: plan.ablation_config()}

    def configure(self, ctx: StageContext) -> dict:
        """:meth:`Plan.ablation_config`, the preset and the target by content."""
        plan = ctx.plan
        return {**plan.ablation_config(), "preset": plan.preset.name,
                "shape_content": fitting.target_identity(plan.ablations.shape)[1]}

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """Run the ablations; the colour fit's views are recorded when written."""
        fitting.run_ablations(ctx.plan.ablations, ctx.plan.fit, out_dir, progress=ctx.progress)
        return outputs(self.name, out_dir)


STAGE = AblationStage()
