"""``softras-bench report``: the main job (:mod:`bench_softras.main_job`: every stage,
then the report; resumable) or, with ``--from-results DIR``, only a rebuild of the
report from saved results."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench_softras.cli import THREADS_OPTION
from bench_softras.job_progress import progress_default
from bench_softras.main_job import MainJobConfig, run_main_job
from bench_softras.results_schema import stage_names

from .options import (
    add_preset_options,
    add_shard_argument,
    csv,
    device_arg,
    int_list_arg,
    path_arg,
    run_id_arg,
)


def report_parser() -> argparse.ArgumentParser:
    """The options of ``softras-bench report``."""
    p = argparse.ArgumentParser(
        prog="softras-bench report",
        description="Run the main job (data, fitting, reconstruction, gradient accuracy, "
                    "forward fidelity, timing, examples) and write the report to "
                    "reports/<run-id>/. Finished stages are skipped when re-run with the "
                    "same options; reconstruction training resumes from checkpoints.")
    add_preset_options(p, "cpu", set_note="a changed field reruns its stage")
    p.add_argument("--renderers", help="comma-separated registered renderer names "
                                       "(default: every registered renderer but the slow "
                                       "references)")
    p.add_argument("--categories", help="comma-separated ShapeNet class ids or names "
                                        "(default: every category of the data)")
    p.add_argument("--data-dir", dest="data_dir", default="", type=path_arg,
                   help="directory of benchmark files ({class_id}_{split}_images.npz / "
                        "_voxels.npz, e.g. the ShapeNet renderings); default: the built-in "
                        "synthetic data set")
    p.add_argument("--device", default="cpu", type=device_arg,
                   help="torch device: cpu (default) or cuda")
    p.add_argument("--run-id", dest="run_id", default="", type=run_id_arg,
                   help="name of the run (default: the preset name): one folder name of "
                        "letters, digits, '.', '_', '-' (bench_softras.safe_paths)")
    p.add_argument("--results-root", dest="results_root", default="results", type=path_arg,
                   help="results go to <results-root>/<run-id>/ (default results)")
    p.add_argument("--reports-root", dest="reports_root", default="reports", type=path_arg,
                   help="the report goes to <reports-root>/<run-id>/ (default reports)")
    p.add_argument("--stages", help=f"comma-separated subset of {','.join(stage_names())} "
                                    "(default: all, stages added by plugins included)")
    p.add_argument("--fit-shapes", dest="fit_shapes",
                   help="comma-separated fitting targets: category names, cube, mesh files")
    p.add_argument("--seeds", type=int_list_arg, help="comma-separated reconstruction seeds")
    p.add_argument("--force", action="store_true",
                   help="re-run the selected stages even when finished (saved evaluations "
                        "are redone; training checkpoints are kept)")
    p.add_argument("--wait", action="store_true",
                   help="if another job is running into the same run directory, wait for "
                        "it to finish (default: fail at once naming it)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (tqdm) of each stage; default: only when the "
                        "console is a terminal. Without them (--no-progress, or output "
                        "redirected to a log file) the job logs a progress line every "
                        "minute instead: stage i/n, time elapsed, estimated time left")
    p.add_argument(THREADS_OPTION, metavar="N",
                   help="threads of torch and Taichi (default: $SOFTRAS_BENCH_THREADS, "
                        "else the cores this process may use); every softras-bench "
                        "command takes it, before or after the command's name")
    p.add_argument("--from-results", dest="from_results", type=path_arg, metavar="DIR",
                   help="only rebuild the report from the results in DIR (runs nothing; "
                        "merges the shards' results and names the missing ones)")
    add_shard_argument(p)
    p.add_argument("--report-dir", dest="report_dir", type=path_arg,
                   help="with --from-results: where the report goes (default "
                        "<reports-root>/<run-id>)")
    return p


def report_main(argv: Sequence[str] | None = None) -> int:
    """``softras-bench report``: the main job or (``--from-results``) a rebuild."""
    p = report_parser()
    args = p.parse_args(argv)
    if args.from_results and args.shard is not None:
        p.error("--shard runs part of a job; --from-results runs nothing: give one of them")
    if args.report_dir and not args.from_results:
        p.error("--report-dir applies to --from-results only; a job writes its report to "
                "<reports-root>/<run-id>: give --reports-root (and --run-id) instead")
    if args.from_results:
        # Here: only a rebuild needs the plotting stack (matplotlib, seaborn: ~1.5 s).
        from bench_softras.report.build import build_report

        # Default <reports-root>/<run id>: --run-id, else run.json's (checked there).
        out = args.report_dir or (str(Path(args.reports_root) / args.run_id) if args.run_id
                                  else None)
        paths = build_report(args.from_results, out, reports_root=args.reports_root)
    else:
        cfg = MainJobConfig(
            preset=args.preset, renderers=csv(args.renderers),
            categories=csv(args.categories), data_dir=args.data_dir, device=args.device,
            run_id=args.run_id, results_root=args.results_root,
            reports_root=args.reports_root, stages=csv(args.stages) or stage_names(),
            fit_shapes=csv(args.fit_shapes),
            seeds=tuple(int(s) for s in csv(args.seeds)), force=args.force,
            progress=progress_default() if args.progress is None else args.progress,
            wait=args.wait, settings=tuple(args.settings),
            shard=args.shard)
        paths = run_main_job(cfg)
        if args.shard is not None:
            print(f"shard {args.shard} done; when every shard is: softras-bench report "
                  f"--from-results {cfg.results_dir}")
            return 0
    _print_missing(args.from_results or cfg.results_dir)
    print(f"report: {paths['markdown']}\n        {paths['html']}")
    return 0


def _print_missing(results_dir: str | Path) -> None:
    """Name, on stderr, the units of a sharded sweep that have no results."""
    from bench_softras.report.results import missing_units

    for line in missing_units(results_dir):
        print(f"softras-bench report: {line}", file=sys.stderr)


main = report_main
