"""The ``examples`` stage: example silhouettes and meshes for the report
(:func:`bench_softras.experiments.examples.compute_examples`), drawn from whatever of the
``fitting`` and ``reconstruction`` stages finished.  The harness, here, reads those
stages' records and finds their outputs inside the run directory; the experiment gets
them as arguments.  Needs every unit's results: runs only in an unsharded call."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench_softras.experiments import examples
from bench_softras.experiments.train import latest_checkpoint
from bench_softras.runs import STAGE_JSON, read_stage_record, recon_run_dir, stage_dir
from bench_softras.safe_paths import contained
from bench_softras.settings import ExamplesConfig

from .base import Stage, StageContext


def examples_config(results_dir: str | Path, data_dir: str | None,
                    ex: ExamplesConfig | None = None) -> dict:
    """The stage's configuration: the config hashes of the ``fitting`` and
    ``reconstruction`` stages it draws from (``None`` when absent), the data directory
    and the :class:`~bench_softras.settings.ExamplesConfig` (so new fits, new training,
    other data or other views re-run it)."""
    fit_rec = read_stage_record(results_dir, "fitting") or {}
    rec_rec = read_stage_record(results_dir, "reconstruction") or {}
    return {"fitting": fit_rec.get("config_hash"),
            "reconstruction": rec_rec.get("config_hash"), "data": data_dir,
            "examples": dataclasses.asdict(ex or ExamplesConfig())}


def example_inputs(results_dir: str | Path) -> tuple[dict | None, dict | None]:
    """``(fit, recon)`` arguments of :func:`~bench_softras.experiments.examples.
    compute_examples` from the run's ``stage.json`` records (``None`` for a stage that
    did not finish).  Each reconstruction run's folder is named by the record (data, not
    code) and must stay inside the stage's folder; its latest checkpoint is found there
    (and later read weights only)."""
    fit_rec = read_stage_record(results_dir, "fitting")
    rec_rec = read_stage_record(results_dir, "reconstruction")
    fit = ({"dir": stage_dir(results_dir, "fitting"), "config": fit_rec["config"]}
           if fit_rec else None)
    recon = None
    if rec_rec:
        rc = rec_rec["config"]
        recon_dir = stage_dir(results_dir, "reconstruction")
        ckpts = {}
        for r in rc["renderers"]:
            run = contained(recon_dir, recon_run_dir(".", r, rc["seeds"][0]),
                            recon_dir / STAGE_JSON)
            path = latest_checkpoint(run)
            if path is not None:
                ckpts[r] = path
        recon = {"checkpoints": ckpts, "recon": rc["recon"]}
    return fit, recon


def run_examples(results_dir: str | Path, out_dir: str | Path,
                 ex: ExamplesConfig | None = None) -> list[Path]:
    """The examples of the run ``results_dir`` (:func:`example_inputs`) written to
    ``out_dir/examples.npz``; returns ``[that path]``."""
    fit, recon = example_inputs(results_dir)
    return examples.compute_examples(out_dir, ex, fit=fit, recon=recon)


class ExamplesStage(Stage):
    """The report's example figures' arrays."""

    name = "examples"
    section = "examples"
    needs_data = True
    configure_late = True  # its configuration holds the records of the stages before it
    unit_seconds = 5.0

    def configure(self, ctx: StageContext) -> dict:
        """:func:`examples_config`."""
        return examples_config(ctx.results_dir, ctx.data.get("dir"), ctx.plan.examples)

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """:func:`run_examples`."""
        return run_examples(ctx.results_dir, out_dir, ctx.plan.examples)


STAGE = ExamplesStage()
