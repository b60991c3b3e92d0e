"""The ``reconstruction`` stage: training and evaluation of the generator per renderer
and seed, each renderer's settings chosen by a sweep on ``val`` objects first
(:func:`bench_softras.experiments.evaluate.run_reconstruction`; resumes from its
checkpoints).  Sharded by unit (the template floor, then renderer x seed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench_softras.experiments import evaluate
from bench_softras.settings import ReconConfig, generator_label, with_overrides

from .base import Plan, Stage, StageContext, outputs


def recon_config(ctx: StageContext) -> ReconConfig:
    """The plan's reconstruction settings on the data set's directory."""
    return with_overrides(ctx.plan.recon, data_dir=ctx.data["dir"])


class ReconstructionStage(Stage):
    """Train and evaluate every reconstruction renderer (:data:`Plan.renderers`) and
    seed."""

    name = "reconstruction"
    section = "recon"
    needs_data = True
    #: 1446 s for 6 runs x 1500 steps x batch 32 (its 14-point sweep on val and the
    #: evaluation folded in).
    unit_seconds = 1446.0 / 288_000

    def units(self, config: dict) -> float:
        """Training steps x batch over every renderer and seed."""
        recon = config.get("recon") or {}
        return (len(config.get("renderers") or []) * len(config.get("seeds") or [])
                * int(recon.get("iterations") or 0) * int(recon.get("batch_size") or 0))

    def recorded_settings(self, plan: Plan) -> dict:
        """``recon`` (with its paths), the preset's ``recon_tuning`` and the generator's
        label."""
        return {self.section: plan.recon.to_dict(),
                "recon_tuning": dataclasses.asdict(plan.preset.recon_tuning),
                "generator": generator_label(plan.recon.model)}

    def portable_settings(self, plan: Plan, data_dir: str) -> dict:
        """``recon`` without the machine's paths (:meth:`ReconConfig.portable_dict`)."""
        return {self.section: plan.recon.portable_dict()}

    def configure(self, ctx: StageContext) -> dict:
        """The settings, renderers, seeds, the tuning sweep and the data's
        fingerprint."""
        plan = ctx.plan
        return {"recon": recon_config(ctx).to_dict(), "renderers": list(plan.renderers),
                "seeds": list(plan.seeds), "preset": plan.preset.name,
                "data_fingerprint": ctx.data.get("fingerprint", ""),
                "recon_tuning": dataclasses.asdict(plan.preset.recon_tuning)}

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """:func:`~bench_softras.experiments.evaluate.run_reconstruction` (this shard's
        units)."""
        plan = ctx.plan
        evaluate.run_reconstruction(plan.preset, plan.renderers, ctx.data["dir"], out_dir,
                                    plan.seeds, config=recon_config(ctx),
                                    tuning=plan.preset.recon_tuning, progress=ctx.progress,
                                    force=ctx.force, shard=ctx.shard)
        return outputs(self.name, out_dir)


STAGE = ReconstructionStage()
