"""Sessions users run: ``nox -s tests`` (the README's test command), ``gradcheck``,
``fuzz``, ``bench``, ``report`` (the main job), ``coverage`` (the report's interval
coverage by simulation), ``browser`` (the report in a headless browser), ``lint``.

``tests``, ``gradcheck``, ``fuzz``, ``bench``, ``report`` and ``browser`` need the same
packages, so they share one environment, ``.nox/shared`` (the package installed editable with its
``test`` extras; about 2.6 GB, torch included), built by the first of them and
reinstalled only when ``pyproject.toml`` or the Python version changes.  ``lint`` has
its own (ruff).  ``report_peers`` (the main job with the optional peer renderers) has its
own small environment, ``.nox/peers``, on top of the shared one: only the ``peers``
extra (Mitsuba 3, Dr.Jit) is installed there, so the tests' environment stays lean; it
also needs Debian's ``libllvm19``, which it installs when run as root (as ``tests``
installs chromium).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox
import tomllib

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = None  # the interpreter nox runs under
#: The environment shared by the sessions that run the suite.
SHARED_VENV = Path(".nox") / "shared"


def _shared_env_key() -> str:
    return hashlib.sha256(Path("pyproject.toml").read_bytes() + sys.version.encode()
                          ).hexdigest()


def _ensure_shared_env(session: nox.Session) -> Path:
    """Create ``.nox/shared`` and install the package into it when missing or out of date
    (one nox at a time: a lock file); returns its ``bin`` directory."""
    venv = SHARED_VENV.absolute()
    venv.parent.mkdir(parents=True, exist_ok=True)
    bin_dir = venv / "bin"
    stamp = venv / ".installed"
    with open(venv.parent / "shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != _shared_env_key():
            if not (bin_dir / "python").exists():
                session.log(f"creating the shared environment {venv}")
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            session.log(f"installing the package into {venv}")
            subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "-e",
                            ".[test]"], check=True)
            stamp.write_text(_shared_env_key())
    return bin_dir


def _install(session: nox.Session) -> None:
    """Make the session run in the shared environment (sessions declared with
    ``venv_backend="none"``); a session with its own virtualenv installs into it."""
    if session.bin_paths:  # its own virtualenv
        session.install("-e", ".[test]")
        return
    bin_dir = str(_ensure_shared_env(session))
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    os.environ["PATH"] = path  # nox looks commands up on its own PATH
    session.env.update({"PATH": path, "VIRTUAL_ENV": str(Path(bin_dir).parent)})


def _find_browser():
    """The headless browser of the report's browser check (``tests/browser_check.py``:
    ``$SOFTRAS_BENCH_BROWSER`` or chromium on ``PATH``), or ``None``."""
    sys.path.insert(0, str(Path("tests").absolute()))
    try:
        from browser_check import find_browser
    finally:
        sys.path.pop(0)
    return find_browser()


def _can_apt() -> bool:
    """Whether this runs as root with Debian's ``apt-get`` (system packages can be
    installed)."""
    return bool(hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"))


def _apt_install(package: str) -> str | None:
    """``apt-get update`` then ``apt-get install`` of one Debian package (no
    recommends, no questions); ``None`` when done, else one line saying which command
    failed and its last error output."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = " ".join(done.stderr.strip().split())[-300:]
            return f"{' '.join(cmd)} failed: {tail}"
    return None


def _ensure_browser(session: nox.Session) -> None:
    """Install Debian's ``chromium`` for the report's browser check when no browser is
    found and this runs as root with ``apt-get`` (``apt-get update`` and the install took
    18 s on the project's machines); otherwise, or when the install fails, say so: the
    browser tests then skip, naming what is missing."""
    if _find_browser() is not None:
        return
    if not _can_apt():
        session.log("no headless browser, and no root apt-get to install chromium: the "
                    "report's browser tests will skip")
        return
    session.log("installing chromium (Debian) for the report's browser check")
    failed = _apt_install("chromium")
    if failed:
        session.warn(f"{failed} (the browser tests will skip)")


@nox.session(python=PYTHON, venv_backend="none")
def tests(session: nox.Session) -> None:
    """The whole pytest suite (CPU; CUDA tests skip without a GPU).  The report's browser
    check needs a headless Chromium: when none is found and the session runs as root
    with apt, it installs Debian's ``chromium`` first (apt-get update + install, about
    20 s); without one those tests skip, saying why."""
    _install(session)
    _ensure_browser(session)
    session.run("pytest", "-q", "-ra", "--benchmark-disable", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none")
def browser(session: nox.Session) -> None:
    """The report in a real headless browser (``tests/browser_check.py``): every
    image decodes, no Markdown marker is visible, every in-page link resolves, no figure
    is shrunk below a readable size.  By default it builds the smoke job's report under
    ``.nox/browser/`` and checks it and every ``reports/*/report.html``; pages given
    after ``--`` are checked instead.  A screenshot of the first screen of the last page
    goes to ``.nox/browser/first_screen.png``.  Installs chromium like ``tests``."""
    _install(session)
    _ensure_browser(session)
    out = Path(".nox", "browser")
    pages = list(session.posargs)
    if not pages:
        session.run("softras-bench", "report", "--preset", "smoke", "--no-progress",
                    "--results-root", str(out / "results"),
                    "--reports-root", str(out / "reports"))
        pages = [str(out / "reports" / "smoke" / "report.html"),
                 *map(str, sorted(Path("reports").glob("*/report.html")))]
    out.mkdir(parents=True, exist_ok=True)
    session.run("python", "tests/browser_check.py", *pages,
                "--screenshot", str(out / "first_screen.png"))


@nox.session(python=PYTHON, venv_backend="none")
def gradcheck(session: nox.Session) -> None:
    """The gradient-check suite alone (tests marked ``gradcheck``)."""
    _install(session)
    session.run("pytest", "-q", "-ra", "-m", "gradcheck", "--benchmark-disable", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none")
def fuzz(session: nox.Session) -> None:
    """The long fuzz profile: 1,000 hypothesis examples per property and renderer, each
    renderer in its own child process (a segfault is reported with its seed and example);
    ``tests/fuzz/run_fuzz.py``.  Options after ``--``, e.g. ``--renderers softras``,
    ``--seed N``, ``--examples N``, ``--replay JSON``, ``--no-cli``.  Then, once, the
    command-line fuzz (``tests/fuzz/test_fuzz_cli.py``: random option values, run ids and
    damaged results directories; exit status 0 or 2, no traceback, no write outside the
    temporary roots)."""
    _install(session)
    session.run("python", "tests/fuzz/run_fuzz.py", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none")
def bench(session: nox.Session) -> None:
    """Issue 22's targets, each a ratio measured side by side in one run
    (``benchmarks/targets.py``, 4 minutes on 2 idle cores, 2026-12-06): the 1-vs-2-thread
    scaling table of every Taichi renderer; every Taichi renderer's forward+backward and
    the ``cpu`` training step idle vs beside two busy torch processes and two busy Python
    loops; ``softras`` against the first kernels (8e443d0) and the training step against
    3b7d54b (their code exported from git; skipped, saying so, without the history);
    PyTorch3D's CPU soft silhouette / ``softras`` (skipped without PyTorch3D); the
    renderer's share of the training step.  It ends with one summary table (ratio,
    criterion, met or missed, load average before and after), also written as
    ``targets.json`` / ``targets.csv`` under ``results/benchmarks/targets/<time>/``.

    Options after ``--`` go to ``targets.py``: ``--quick`` (fewer rounds, about 3 minutes
    on a busy 2-core machine), ``--only load,kernels``, ``--renderers softras,n3mr``.
    ``--pytest`` first runs the pytest-benchmark suite as well (``benchmarks/test_*.py``:
    every renderer including the slow ones, memory, the smoke main job; JSON saved under
    ``results/benchmarks`` and compared with the previous saved run; tens of minutes)."""
    _install(session)
    posargs = list(session.posargs)
    if "--pytest" in posargs:
        posargs.remove("--pytest")
        storage = "file://results/benchmarks"
        args = ["pytest", "benchmarks", "-q", "--benchmark-only", "--benchmark-autosave",
                f"--benchmark-storage={storage}",
                "--benchmark-columns=min,median,mean,stddev,rounds", "--benchmark-sort=name"]
        if any(Path("results/benchmarks").glob("*/*.json")):
            args.append("--benchmark-compare")
        session.run(*args)
    session.run("python", "benchmarks/targets.py", *posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON, venv_backend="none")
def report(session: nox.Session) -> None:
    """The main job: fitting, reconstruction, gradient accuracy, forward fidelity and timing
    on the built-in data set, then ``reports/<run-id>/report.md`` and ``report.html``.
    Resumable (finished stages are skipped).  Options after ``--``, e.g.
    ``nox -s report -- --preset smoke``, ``--renderers softras,n3mr``, ``--categories
    chair,car``, ``--data-dir PATH`` (ShapeNet files), ``--device cuda``, ``--run-id ID``,
    ``--from-results results/ID`` (rebuild the report only); ``softras-bench report --help``
    lists them all."""
    _install(session)
    session.run("softras-bench", "report", *session.posargs)


#: The environment of ``report_peers``: the shared one plus the ``peers`` extra.
PEERS_VENV = Path(".nox") / "peers"
#: The peers' own tests, which ``report_peers`` runs before the job (about 15 s).
PEER_TESTS = ("tests/renderers/test_mitsuba.py", "tests/renderers/test_peers.py")


def _mitsuba_setup():
    """``renderers/peers/mitsuba_setup.py`` loaded on its own (standard library only; nox's
    Python has no torch): where Debian's LLVM 19 lives (``DEBIAN_LLVM19``,
    ``debian_llvm19()``) and the variable Dr.Jit reads (``LLVM_ENV``)."""
    spec = importlib.util.spec_from_file_location(
        "_softras_mitsuba_setup", Path("renderers", "peers", "mitsuba_setup.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ensure_llvm19(session: nox.Session) -> dict[str, str]:
    """The LLVM library of Mitsuba's CPU variant, as environment variables for the job:
    none when ``$DRJIT_LIBLLVM_PATH`` is set (the user's library; the adapter tries it in
    a child process first), else ``{"DRJIT_LIBLLVM_PATH": <Debian's LLVM 19>}``, with
    ``libllvm19`` installed first when missing and this runs as root with apt-get (about
    3 s for the install after ``apt-get update``).  Otherwise the session stops with one
    line naming the fix (LLVM 15 makes Dr.Jit's JIT abort)."""
    setup = _mitsuba_setup()
    if os.environ.get(setup.LLVM_ENV):
        session.log(f"Mitsuba uses {setup.LLVM_ENV}={os.environ[setup.LLVM_ENV]}")
        return {}
    found = setup.debian_llvm19()
    if found is None and _can_apt():
        session.log("installing Debian's libllvm19 (Mitsuba's CPU variant needs LLVM 19)")
        failed = _apt_install("libllvm19")
        if failed:
            session.error(f"could not install libllvm19 (Mitsuba's CPU variant needs LLVM "
                          f"19): {failed}")
        found = setup.debian_llvm19()
    if found is None:
        session.error("libllvm19 is missing (Mitsuba's CPU variant needs LLVM 19): run "
                      "apt-get install libllvm19 as root (or set DRJIT_LIBLLVM_PATH to a "
                      "working libLLVM), then rerun nox -s report_peers")
    return {setup.LLVM_ENV: found}


def _shared_pth(shared_site: str) -> str:
    """The ``.pth`` line that puts ``shared_site`` on ``sys.path`` as a site directory:
    its own ``.pth`` files are read too (a plain path line would skip them, and with them
    the package's editable install: ``import renderers`` then worked only from the
    repository root)."""
    return f"import site; site.addsitedir({shared_site!r})\n"


def _peers_env(session: nox.Session) -> Path:
    """``.nox/peers``: a virtualenv that sees the shared environment's packages and holds
    the ``peers`` extra of ``pyproject.toml``; returns its python.  A ``.pth`` file adds
    the shared ``site-packages`` as a site directory (:func:`_shared_pth`)."""
    shared_bin = _ensure_shared_env(session)
    shared_site = subprocess.run(
        [str(shared_bin / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
         "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip()
    venv = PEERS_VENV.absolute()
    python = venv / "bin" / "python"
    pins = tomllib.loads(Path("pyproject.toml").read_text())["project"][
        "optional-dependencies"]["peers"]
    pth = _shared_pth(shared_site)
    key = hashlib.sha256(("\n".join(pins) + pth).encode()).hexdigest()
    stamp = venv / ".installed"
    if not stamp.exists() or stamp.read_text() != key:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                               "get_paths()['purelib'])"], check=True, capture_output=True,
                              text=True).stdout.strip()
        Path(site, "softras_shared.pth").write_text(pth)
        session.log(f"installing the peers extra {pins} into {venv}")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
        stamp.write_text(key)
    return python


@nox.session(python=PYTHON, venv_backend="none")
def report_peers(session: nox.Session) -> None:
    """The main job with the optional peer renderers: ``softras-bench report`` (options
    after ``--``, as ``report``) in ``.nox/peers``, the shared environment plus the
    ``peers`` extra (``mitsuba==3.9.1``, ``drjit==1.5.0``).  First Mitsuba's system
    library, Debian's ``libllvm19`` (installed when missing and run as root), then the
    peers' own tests (:data:`PEER_TESTS`), so a broken peer stops the session before the
    job.  PyTorch3D (``pytorch3d_soft``) has no CPU wheel: build it as docs/renderers.md
    says; the job uses it where it imports and names it as absent otherwise."""
    llvm = _ensure_llvm19(session)
    python = str(_peers_env(session))
    session.run(python, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider",
                "--benchmark-disable", *PEER_TESTS, env=llvm, external=True)
    session.run(python, "-m", "bench_softras", "report", *session.posargs, env=llvm,
                external=True)


@nox.session(python=PYTHON, venv_backend="none")
def coverage(session: nox.Session) -> None:
    """Coverage of the report's paired intervals in a simulated benchmark sized like the
    committed runs (13 categories x 16 objects, 1-5 seeds; 20,000 replications, a few
    minutes; then one object per category, the categories pooled): prints the tables of
    docs/statistics.md and fails unless the interval covers 93-97% at 3 and 5 seeds and
    the pooled one at least 93% (``softras-bench coverage``,
    :mod:`bench_softras.commands.coverage`)."""
    _install(session)
    session.run("python", "-m", "bench_softras", "coverage", "--check", *session.posargs)
