"""The ``fitting`` stage: the fitting benchmark over the data set's test objects and the
``--fit-shapes`` targets, each renderer tuned on its val objects first
(:func:`bench_softras.experiments.fit_bench.run_fit_benchmark`; redone when the data
set's files change).  Sharded by unit (target x renderer)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench_softras.errors import UserError
from bench_softras.experiments import fit_bench, fitting

from .base import MainJobError, Plan, Stage, StageContext, outputs


def check_target(shape: str, where: str, data_objects: bool) -> None:
    """``shape`` resolves as a fitting target (:func:`fitting.load_target`: a mesh file is
    read, a category generated); a data-set object only when ``data_objects`` (its
    index is checked when the data set is there).  :class:`MainJobError` naming
    ``where`` otherwise."""
    if fitting.is_data_spec(shape):
        if data_objects:
            return
        raise MainJobError(f"{where} {shape!r}: a data-set object has no mesh; the ablations "
                           "fit a mesh target (a mesh file, cube or a category name)")
    try:
        fitting.load_target(shape)
    except (UserError, ValueError) as exc:
        raise MainJobError(f"{where} {shape!r}: {exc}") from None


class FittingStage(Stage):
    """Fit every target with every fitting renderer (:data:`Plan.fit_renderers`)."""

    name = "fitting"
    section = "fit"
    needs_data = True
    #: 160.4 s for 14,820 optimisation steps (13 targets x 6 renderers x 120 steps, the
    #: slow reference's fits and a 2-target tuning sweep of 50-step fits).
    unit_seconds = 160.4 / 14_820

    def units(self, config: dict) -> float:
        """Optimisation steps: every target x fast renderer x steps, the slow references'
        reduced fits, and the tuning sweep's fits."""
        fit, bench = config.get("fit") or {}, config.get("fit_bench") or {}
        names = config.get("renderers") or []
        slow = [n for n in names if n in (bench.get("slow_renderers") or ())]
        fast = len(names) - len(slow)
        tuning = (int(bench.get("tuning_targets") or 0) * fast * len(bench.get("lr_scales") or ())
                  * max(1, len(bench.get("sigmas") or ()))
                  * int(bench.get("tuning_steps") or fit.get("steps") or 0))
        return (len(config.get("shapes") or []) * fast * int(fit.get("steps") or 0)
                + len(slow) * int(bench.get("slow_targets") or 0)
                * int(bench.get("slow_steps") or fit.get("steps") or 0) + tuning)

    def check(self, plan: Plan) -> None:
        """Every ``--fit-shapes`` target resolves."""
        for shape in plan.fit_shapes:
            check_target(shape, "--fit-shapes", data_objects=True)

    def recorded_settings(self, plan: Plan) -> dict:
        """``fit``, the preset's ``fit_bench`` and the fitting renderers."""
        return {**self.portable_settings(plan, ""),
                "fit_renderers": list(plan.fit_renderers)}

    def portable_settings(self, plan: Plan, data_dir: str) -> dict:
        """``fit`` and ``fit_bench`` (the harness lists the fitting renderers)."""
        return {self.section: dataclasses.asdict(plan.fit),
                "fit_bench": dataclasses.asdict(plan.preset.fit_bench)}

    def configure(self, ctx: StageContext) -> dict:
        """The fit and benchmark settings, every target (the user's mesh files by
        content), the renderers and the data's fingerprint."""
        plan, data_dir = ctx.plan, ctx.data.get("dir") or ""
        specs = fit_bench.benchmark_specs(data_dir, plan.preset.fit_bench, plan.class_ids)
        return {"fit": dataclasses.asdict(plan.fit),
                "fit_bench": dataclasses.asdict(plan.preset.fit_bench),
                "shapes": specs + list(plan.fit_shapes), "user_shapes": list(plan.fit_shapes),
                "user_shape_content": [fitting.target_identity(s)[1] for s in plan.fit_shapes],
                "renderers": list(plan.fit_renderers), "preset": plan.preset.name,
                "data_dir": data_dir, "class_ids": list(plan.class_ids),
                "data_fingerprint": ctx.data.get("fingerprint", "")}

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """:func:`~bench_softras.experiments.fit_bench.run_fit_benchmark` (this shard's
        units)."""
        plan = ctx.plan
        fit_bench.run_fit_benchmark(plan.fit_renderers, plan.preset, out_dir, config=plan.fit,
                                    bench=plan.preset.fit_bench,
                                    data_dir=ctx.data.get("dir") or None,
                                    class_ids=plan.class_ids, shapes=plan.fit_shapes,
                                    progress=ctx.progress, shard=ctx.shard, force=ctx.force)
        return outputs(self.name, out_dir)


STAGE = FittingStage()
