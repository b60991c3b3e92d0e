"""``softras-bench``: the command line of the suite.

Commands (``softras-bench <command> --help`` for the options of each):

* ``report``: the main job (every stage, then the report; resumable), or with
  ``--from-results DIR`` only rebuild the report from saved results;
* ``fit``, ``train``, ``evaluate``: the experiments (:mod:`bench_softras.experiments`);
* ``gradients``: gradient accuracy and forward fidelity study;
* ``timing``: timing and scaling study;
* ``step-split``: one reconstruction training step split into its parts;
* ``renderers``: list the registered renderers (and absent optional ones);
* ``coverage``: the coverage of the report's intervals, by simulation.

Each command is a module of :mod:`bench_softras.commands` (``COMMANDS``); this module
only dispatches.  Every command but ``renderers`` and ``coverage`` (a simulation with
its own sizes) takes ``--preset NAME`` and ``--set SECTION.FIELD=VALUE``
(:mod:`bench_softras.commands.options`).

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

from bench_softras.errors import DEBUG_ENV, is_user_error, user_message

#: command -> (module of :mod:`bench_softras.commands` with ``main(argv)``, one-line
#: description).  Imported when its command runs (after :func:`quiet_taichi`).
COMMANDS = {
    "report": ("bench_softras.commands.report", "the main job and its report (resumable); "
                                                "--from-results DIR rebuilds a report"),
    "fit": ("bench_softras.commands.fit", "fit the template sphere to target shapes"),
    "train": ("bench_softras.commands.train", "train one renderer's mesh generator"),
    "evaluate": ("bench_softras.commands.evaluate",
                 "evaluate checkpoints (voxel IoU per category)"),
    "gradients": ("bench_softras.commands.gradients", "gradient accuracy / forward fidelity"),
    "timing": ("bench_softras.commands.timing", "timing and scaling of the renderers"),
    "step-split": ("bench_softras.commands.step_split",
                   "time one training step: data, generator, renderer, loss, optimizer"),
    "renderers": ("bench_softras.commands.renderers", "list the registered renderers"),
    "coverage": ("bench_softras.commands.coverage",
                 "coverage of the report's intervals, by simulation"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: softras-bench <command> [options]", "", "commands:"]
    lines += [f"  {c:<{width}}  {d}" for c, (_, d) in COMMANDS.items()]
    lines += ["", "softras-bench <command> --help shows a command's options.",
              "Every command takes --threads N: threads of torch and Taichi (default "
              "$SOFTRAS_BENCH_THREADS, else the cores available).",
              "Every command but renderers and coverage takes --preset NAME and --set "
              "SECTION.FIELD=VALUE (bench_softras.settings)."]
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
