"""The ``data`` stage: the built-in synthetic data set of the preset's size (built once,
cached, :func:`bench_softras.data.build_synthetic`) or a directory of benchmark files
(e.g. the ShapeNet renderings of N3MR / SoftRas), recorded in ``data.json``
(:data:`~bench_softras.results_schema.DATA_JSON`).  Every shard that needs the data
resolves it (shard kind ``every``)."""

from __future__ import annotations

import logging
from pathlib import Path

from bench_softras import data as datasets
from bench_softras.atomic import write_json
from bench_softras.data import data_fingerprint
from bench_softras.data.checks import check_data_dir
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.results_schema import DATA_JSON

from .base import MainJobError, Plan, Stage, StageContext, outputs

log = logging.getLogger("bench_softras.main_job")


def _synthetic_args(plan: Plan) -> tuple[str, dict, object]:
    """``(params preset, overrides, renderer)`` of the synthetic build: the same renderer
    as :func:`bench_softras.commands.options.resolve_data_dir`, so the cache is
    shared."""
    over = {"class_ids": plan.class_ids} if plan.class_ids else {}
    return plan.preset.synthetic_data, over, make_renderer("hard", 64)


def synthetic_key(plan: Plan) -> str:
    """The cache hash of the synthetic build (changes with its parameters and the
    generator / file format versions)."""
    params, over, renderer = _synthetic_args(plan)
    return datasets.cache_key(datasets.resolve_params(params, **over), renderer)[0]


def resolve_data(ctx: StageContext) -> dict:
    """Find or build the data set; returns ``{"kind", "dir", "class_ids", ...}``."""
    plan = ctx.plan
    if ctx.data_dir:
        d = Path(ctx.data_dir).resolve()
        found = datasets.find_class_ids(d, "train")
        if not found:
            raise MainJobError(f"no *_train_images.npz files in {str(d)!r}: expected the "
                               "benchmark layout {class_id}_{train,val,test}_images.npz / "
                               "_voxels.npz")
        missing = [c for c in plan.class_ids if c not in found]
        if missing:
            raise MainJobError(f"categories {missing} are not in {str(d)!r} (found {found})")
        log.info("data: checking every file in %s", d)
        check_data_dir(d, plan.class_ids or found, plan.recon.eval_split)
        return {"kind": "directory", "dir": str(d), "class_ids": list(plan.class_ids or found)}
    params, over, renderer = _synthetic_args(plan)
    d = datasets.build_synthetic(None, params, renderer, progress=ctx.progress, **over)
    manifest = datasets.read_manifest(d) or {}
    return {"kind": "synthetic", "dir": str(d), "preset": plan.preset.synthetic_data,
            "class_ids": list(manifest.get("categories", {})),
            "counts": manifest.get("counts", {}),
            "build_seconds": manifest.get("build_seconds")}


class DataStage(Stage):
    """Find or build the data set (:func:`resolve_data`)."""

    name = "data"
    needs_data = True
    unit_seconds = 2.0  # cached: checking the folder; a first build takes about 25 s

    def portable_settings(self, plan: Plan, data_dir: str) -> dict:
        """``data``: where the data comes from, without this machine's path (a
        ``--data-dir``, or the synthetic build's cache key); nothing in the run's
        configuration (:meth:`recorded_settings`: the job's options hold
        ``--data-dir``)."""
        return {"data": "--data-dir" if data_dir else f"synthetic {synthetic_key(plan)}"}

    def configure(self, ctx: StageContext) -> dict:
        """Where the data comes from: the given directory (and its content's
        fingerprint) or the synthetic build's preset and cache key, and the categories."""
        given = ctx.data_dir
        return {"data_dir": str(Path(given).resolve()) if given else "",
                "fingerprint": data_fingerprint(given) if given else "",
                "synthetic": "" if given else ctx.plan.preset.synthetic_data,
                "synthetic_key": "" if given else synthetic_key(ctx.plan),
                "class_ids": list(ctx.plan.class_ids)}

    def run(self, ctx: StageContext, out_dir: Path) -> list[Path]:
        """Write ``data.json``."""
        write_json(out_dir / DATA_JSON, resolve_data(ctx))
        return outputs(self.name, out_dir)


STAGE = DataStage()
