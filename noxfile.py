"""Sessions users run: ``nox -s tests`` (the README's test command), ``gradcheck``,
``fuzz``, ``bench``, ``report`` (the main job), ``lint``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = None  # the interpreter nox runs under


def _install(session: nox.Session) -> None:
    session.install("-e", ".[test]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole pytest suite (CPU; CUDA tests skip without a GPU)."""
    _install(session)
    session.run("pytest", "-q", "-ra", "--benchmark-disable", *session.posargs)


@nox.session(python=PYTHON)
def gradcheck(session: nox.Session) -> None:
    """The gradient-check suite alone (tests marked ``gradcheck``)."""
    _install(session)
    session.run("pytest", "-q", "-ra", "-m", "gradcheck", "--benchmark-disable", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The long fuzz profile: 1,000 hypothesis examples per property and renderer, each
    renderer in its own child process (a segfault is reported with its seed and example);
    ``tests/fuzz/run_fuzz.py``.  Options after ``--``, e.g. ``--renderers softras``,
    ``--seed N``, ``--examples N``, ``--replay JSON``."""
    _install(session)
    session.run("python", "tests/fuzz/run_fuzz.py", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """pytest-benchmark timings of every renderer; JSON saved under results/benchmarks and
    compared with the previous saved run."""
    _install(session)
    storage = "file://results/benchmarks"
    args = ["pytest", "benchmarks", "-q", "--benchmark-only", "--benchmark-autosave",
            f"--benchmark-storage={storage}", "--benchmark-columns=min,median,mean,stddev,rounds",
            "--benchmark-sort=name"]
    import pathlib

    if any(pathlib.Path("results/benchmarks").rglob("*.json")):
        args.append("--benchmark-compare")
    session.run(*args, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """The main job: fitting, reconstruction, gradient accuracy, forward fidelity and timing
    on the built-in data set, then ``reports/<run-id>/report.md`` and ``report.html``.
    Resumable (finished stages are skipped).  Options after ``--``, e.g.
    ``nox -s report -- --preset smoke``, ``--renderers softras,n3mr``, ``--categories
    chair,car``, ``--data-dir PATH`` (ShapeNet files), ``--device cuda``, ``--run-id ID``,
    ``--from-results results/ID`` (rebuild the report only); ``softras-bench report --help``
    lists them all."""
    session.install("-e", ".")
    session.run("softras-bench", "report", *session.posargs)
