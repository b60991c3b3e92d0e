"""The report reads saved results only: no module of ``bench_softras.report`` imports the
experiments, the studies or the renderers (issue 12), and it names paths relative to
the run's roots (:mod:`bench_softras.report.paths`)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bench_softras.report
from bench_softras.report.paths import PathNamer
from bench_softras.report.results import read_examples

#: Packages the report must not import (prefixes of absolute module names): what computes
#: results (issue 12), and the main job and the environment probe, which run them.
FORBIDDEN = ("bench_softras.experiments", "bench_softras.studies", "renderers",
             "bench_softras.main_job", "bench_softras.environment")
PACKAGE = "bench_softras.report"


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute module of a ``from ... import`` in a module of ``package``."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(source: str, package: str = PACKAGE) -> set[str]:
    """Every module ``source`` (a module of ``package``) imports: ``import x``, ``from x
    import y`` (also as ``x.y``, which may be a submodule), relative imports resolved,
    and ``importlib.import_module`` / ``__import__`` calls with a literal name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(node, package)
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__")):
            found.add(node.args[0].value)
    return found


def forbidden_imports(source: str, package: str = PACKAGE) -> list[str]:
    return sorted(m for m in imported_modules(source, package)
                  if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def test_the_checker_catches_every_form_of_import():
    src = ("import renderers\n"
           "from renderers.threads import settings\n"
           "from bench_softras.experiments import fitting\n"
           "from .. import studies\n"
           "from ..experiments.examples import run_examples\n"
           "def f():\n"
           "    import importlib\n"
           "    importlib.import_module('bench_softras.studies.timing')\n"
           "from . import figures\n"
           "from ..environment import collect_environment\n"
           "from bench_softras.runs import STAGES\n")
    assert forbidden_imports(src) == [
        "bench_softras.environment", "bench_softras.environment.collect_environment",
        "bench_softras.experiments", "bench_softras.experiments.examples",
        "bench_softras.experiments.examples.run_examples", "bench_softras.experiments.fitting",
        "bench_softras.studies", "bench_softras.studies.timing", "renderers",
        "renderers.threads", "renderers.threads.settings"]


def test_no_report_module_imports_experiments_studies_or_renderers():
    root = Path(bench_softras.report.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert len(modules) >= 8  # the walk sees the package
    bad = {str(p.relative_to(root)): found for p in modules
           if (found := forbidden_imports(p.read_text()))}
    assert not bad, f"the report imports {bad}; it must only read saved results"


def test_importing_the_report_loads_no_renderer_torch_or_experiment():
    code = ("import sys, bench_softras.report.build, bench_softras.report.figures\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('renderers', 'torch', "
            "'taichi', 'metrics') or m.startswith(('bench_softras.experiments', "
            "'bench_softras.studies', 'bench_softras.data'))]\n"
            "print(','.join(sorted(bad)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(bench_softras.report.__file__).parents[2])
    assert out.stdout.strip() == ""


def test_examples_absent_read_as_empty(tmp_path):
    assert read_examples(tmp_path) == {}
    (tmp_path / "examples").mkdir()
    np.savez(tmp_path / "examples" / "examples.npz", recon_classes=np.asarray(["a"]))
    assert list(read_examples(tmp_path)) == ["recon_classes"]


# -- paths ----------------------------------------------------------------------------
@pytest.fixture
def run(tmp_path):
    results = tmp_path / "res"
    return results / "r1", {
        "config": {"results_root": str(results), "reports_root": str(tmp_path / "rep"),
                   "data_dir": "", "recon": {"out_dir": "results/recon", "data_dir": ""}},
        "data": {"kind": "synthetic", "dir": str(tmp_path / "cache" / "synthetic" / "abc")}}


def test_paths_are_named_relative_to_the_run_roots(run, tmp_path):
    results_dir, rec = run
    namer = PathNamer.for_run(results_dir, rec)
    assert namer.name(results_dir) == "<results-root>/r1"
    assert namer.name(results_dir / "fitting" / "x.csv") == "<results-root>/r1/fitting/x.csv"
    assert namer.name(tmp_path / "rep" / "r1") == "<reports-root>/r1"
    assert namer.name(rec["data"]["dir"]) == "<data-cache>/synthetic/abc"
    assert namer.name("/somewhere/else/file.txt") == ".../file.txt"
    assert namer.name("results/recon") == "results/recon"  # relative: as given
    scrubbed = namer.scrub(rec)
    assert str(tmp_path) not in repr(scrubbed)
    assert scrubbed["config"]["results_root"] == "<results-root>"
    assert scrubbed["config"]["recon"]["out_dir"] == "results/recon"


def test_a_given_data_directory_and_a_symlinked_root(tmp_path):
    real = tmp_path / "real"
    (real / "res" / "r1").mkdir(parents=True)
    link = tmp_path / "link"
    os.symlink(real, link)
    rec = {"config": {"data_dir": str(tmp_path / "shapenet")},
           "data": {"kind": "directory", "dir": str(tmp_path / "shapenet")}}
    namer = PathNamer.for_run(link / "res" / "r1", rec)
    assert namer.name(real / "res" / "r1" / "a") == "<results-root>/r1/a"
    assert namer.name(tmp_path / "shapenet" / "x_train_images.npz") == \
        "<data-dir>/x_train_images.npz"
