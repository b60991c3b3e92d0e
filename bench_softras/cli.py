"""``softras-bench``: the command line of the suite.

Commands (``softras-bench <command> --help`` for the options of each):

* ``report``: the main job (every stage, then the report; resumable), or with
  ``--from-results DIR`` only rebuild the report from saved results;
* ``fit``, ``train``, ``evaluate``: the experiments (:mod:`bench_softras.experiments`);
* ``gradients``: gradient accuracy and forward fidelity study;
* ``timing``: timing and scaling study;
* ``step-split``: one reconstruction training step split into its parts;
* ``renderers``: list the registered renderers (and absent optional ones).

Every command takes ``--threads N`` (before or after the command's name): the threads
of torch and Taichi (default: ``$SOFTRAS_BENCH_THREADS``, else the cores this process
may use; at most 4 per available core, :mod:`renderers.threads`).  The setting is
recorded in the main job's ``run.json`` and ``environment.json``.  A ``~`` in a path
option means the home directory, and ``--run-id`` must be one safe folder name
(:mod:`bench_softras.safe_paths`).

A user mistake (bad option value, bad data file, run directory in use, unwritable
directory; :mod:`bench_softras.errors`) prints one line ``softras-bench <command>:
error: ...`` and exits with status 2; ``--debug`` (anywhere on the command line) or
``SOFTRAS_BENCH_DEBUG=1`` shows its traceback.  Tracebacks otherwise mean a bug.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench_softras.errors import DEBUG_ENV, device_arg, int_list_arg, is_user_error, user_message
from bench_softras.runs import STAGES
from bench_softras.safe_paths import path_arg, run_id_arg

#: command -> (module with ``main(argv)``, one-line description).
COMMANDS = {
    "report": ("bench_softras.cli", "the main job and its report (resumable); "
                                    "--from-results DIR rebuilds a report"),
    "fit": ("bench_softras.experiments.fitting", "fit the template sphere to target shapes"),
    "train": ("bench_softras.experiments.train", "train one renderer's mesh generator"),
    "evaluate": ("bench_softras.experiments.evaluate",
                 "evaluate checkpoints (voxel IoU per category)"),
    "gradients": ("bench_softras.studies.gradients", "gradient accuracy / forward fidelity"),
    "timing": ("bench_softras.studies.timing", "timing and scaling of the renderers"),
    "step-split": ("bench_softras.studies.step_split",
                   "time one training step: data, generator, renderer, loss, optimizer"),
    "renderers": ("bench_softras.cli", "list the registered renderers"),
}


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def report_parser() -> argparse.ArgumentParser:
    """The options of ``softras-bench report``."""
    # Imported here, not at the top: settings import renderers (hence Taichi), which must
    # come after quiet_taichi() so that --help prints no Taichi banner.
    from bench_softras.settings import OFFICIAL_DEMO_SIGMA, PRESETS, SECTIONS
    from bench_softras.shards import add_shard_argument

    p = argparse.ArgumentParser(
        prog="softras-bench report",
        description="Run the main job (data, fitting, reconstruction, gradient accuracy, "
                    "forward fidelity, timing, examples) and write the report to "
                    "reports/<run-id>/. Finished stages are skipped when re-run with the "
                    "same options; reconstruction training resumes from checkpoints.")
    p.add_argument("--preset", default="cpu", choices=tuple(PRESETS),
                   help="experiment sizes (default cpu; smoke: CI-sized; gpu: one GPU, "
                        "minutes; paper: GPU, the paper's schedule)")
    p.add_argument("--set", dest="settings", action="append", default=[],
                   metavar="SECTION.FIELD=VALUE",
                   help="override one field of the preset (repeatable), e.g. --set "
                        f"recon.sigma={OFFICIAL_DEMO_SIGMA:g} --set fit.steps=50 --set "
                        "timing.repeats=3; "
                        f"sections: {', '.join(SECTIONS)} (bench_softras.settings); values "
                        "are typed from the field (tuples comma-separated, booleans "
                        "true/false); a changed field reruns its stage")
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
    p.add_argument("--stages", help=f"comma-separated subset of {','.join(STAGES)} "
                                    "(default: all)")
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
    # Here, not at the top: main_job imports renderers (hence Taichi) after quiet_taichi().
    from bench_softras.job_progress import progress_default
    from bench_softras.main_job import MainJobConfig, run_main_job

    p = report_parser()
    args = p.parse_args(argv)
    if args.from_results and args.shard is not None:
        p.error("--shard runs part of a job; --from-results runs nothing: give one of them")
    if args.from_results:
        # Here: only a rebuild needs the plotting stack (matplotlib, seaborn: ~1.5 s).
        from bench_softras.report.build import build_report

        # Default <reports-root>/<run id>: --run-id, else run.json's (checked there).
        out = args.report_dir or (str(Path(args.reports_root) / args.run_id) if args.run_id
                                  else None)
        paths = build_report(args.from_results, out, reports_root=args.reports_root)
    else:
        cfg = MainJobConfig(
            preset=args.preset, renderers=_csv(args.renderers),
            categories=_csv(args.categories), data_dir=args.data_dir, device=args.device,
            run_id=args.run_id, results_root=args.results_root,
            reports_root=args.reports_root, stages=_csv(args.stages) or STAGES,
            fit_shapes=_csv(args.fit_shapes),
            seeds=tuple(int(s) for s in _csv(args.seeds)), force=args.force,
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


def renderers_main(argv: Sequence[str] | None = None) -> int:
    """``softras-bench renderers [--describe]``: registered renderers, one name a line
    (with ``--describe``: family, sharpness parameter, options, forward model, gradient
    rule, paper), then the absent optional ones."""
    p = argparse.ArgumentParser(prog="softras-bench renderers",
                                description=renderers_main.__doc__)
    p.add_argument("--describe", action="store_true",
                   help="print each renderer's self-description")
    args = p.parse_args(argv)
    import renderers  # here, not at the top: Taichi loads after quiet_taichi()

    for name in renderers.available():
        print(name)
        if args.describe:
            info = renderers.describe(name)
            opts = ", ".join(f"{o.name}={o.default!r} {o.valid_range()}"
                             for o in info.options or ())
            for key, value in (("family", info.family), ("sharpness", info.sharpness),
                               ("options", opts), ("forward", info.forward_model),
                               ("gradient", info.gradient_rule), ("paper", info.paper),
                               ("cost", info.cost)):
                print(f"    {key}: {value}")
    for name, note in renderers.absent_peers().items():
        print(f"{name} (absent: {note})")
    return 0


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: softras-bench <command> [options]", "", "commands:"]
    lines += [f"  {c:<{width}}  {d}" for c, (_, d) in COMMANDS.items()]
    lines += ["", "softras-bench <command> --help shows a command's options.",
              "Every command takes --threads N: threads of torch and Taichi (default "
              "$SOFTRAS_BENCH_THREADS, else the cores available)."]
    return "\n".join(lines)


#: Environment variable naming the user's modules (comma-separated import paths) that
#: register renderers; the CLI imports them before any command runs.
PLUGINS_ENV = "SOFTRAS_BENCH_PLUGINS"


def load_plugins(spec: str | None = None) -> list[str]:
    """Import the modules listed in ``spec`` (default: ``$SOFTRAS_BENCH_PLUGINS``,
    comma-separated import paths) so the renderers they register are available.
    Returns the imported module names.  A module that is missing or fails while it is
    imported (an error in it, a renderer name already taken) raises
    :class:`~bench_softras.errors.UserError` naming the module: one line, exit status 2
    (``--debug`` shows the plugin's traceback)."""
    from bench_softras.errors import UserError

    spec = os.environ.get(PLUGINS_ENV, "") if spec is None else spec
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            if isinstance(exc, ModuleNotFoundError) and exc.name and \
                    (name + ".").startswith(exc.name + "."):
                why = "not found on the Python path (check the name, or install it)"
            else:
                why = f"failed while importing: {type(exc).__name__}: {exc}"
            raise UserError(f"{PLUGINS_ENV}: renderer plugin module {name!r} {why}; fix it "
                            f"or remove it from {PLUGINS_ENV}") from exc
    return names


THREADS_OPTION = "--threads"


def pop_threads(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` without ``--threads N`` / ``--threads=N`` (anywhere) and the value given
    (the last one wins), or ``None``."""
    rest, value, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == THREADS_OPTION:
            if i + 1 >= len(argv):
                raise ValueError("--threads needs a value: --threads N (a positive integer)")
            value, i = argv[i + 1], i + 2
            continue
        if arg.startswith(THREADS_OPTION + "="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return rest, value


def apply_threads(value: str | None) -> int:
    """Size the thread pools (:func:`renderers.threads.configure`): ``value`` from
    ``--threads``, else the defaults.  ``ValueError`` for a bad count."""
    from renderers import threads  # here, not at the top: Taichi loads after quiet_taichi()

    if value is not None:
        threads.parse_threads(value, "--threads")
    return threads.configure(int(value) if value is not None else None)


def quiet_taichi() -> None:
    """No Taichi version banner on the command line (``ENABLE_TAICHI_HEADER_PRINT=1``
    shows it); applies to Taichi imported after this call.  The versions are recorded in
    the run's ``environment.json``."""
    os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "0")


def _one_line_error(self: argparse.ArgumentParser, message: str):
    """``ArgumentParser.error`` of the CLI: one line (not the whole usage), status 2."""
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """While active, every argparse parser reports a bad option value in one line."""
    original = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _one_line_error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]


def _dispatch(cmd: str, rest: list[str]) -> int:
    if cmd == "report":
        return report_main(rest)
    if cmd == "renderers":
        return renderers_main(rest)
    module = importlib.import_module(COMMANDS[cmd][0])
    return int(module.main(rest) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``softras-bench`` console script."""
    quiet_taichi()  # before anything imports renderers (hence Taichi)
    from renderers.threads import prefer_passive_wait  # imports Taichi: after quiet_taichi()

    prefer_passive_wait()  # before torch (and its OpenMP runtime) loads
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        argv, value = pop_threads(argv)
        apply_threads(value)
    except ValueError as exc:
        print(f"softras-bench: error: {exc}", file=sys.stderr)
        return 2
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"softras-bench: unknown command {cmd!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        load_plugins()
        with one_line_usage_errors():
            return _dispatch(cmd, rest)
    except SystemExit as exc:  # argparse: --help (0) or a bad option (2, message printed)
        return exc.code if isinstance(exc.code, int) else 2
    except Exception as exc:
        if debug or not is_user_error(exc):
            raise
        print(f"softras-bench {cmd}: error: {user_message(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
