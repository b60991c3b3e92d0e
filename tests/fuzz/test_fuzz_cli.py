"""Fuzz of the command line (``softras-bench report``): random option values, run ids
and damaged results directories, run in-process through ``cli.main(argv)`` with
temporary roots.  Properties: the exit status is 0 or 2 (never an exception, which the
console script would print as a traceback), a status 2 prints one line, and nothing is
written outside the temporary roots.  No stage runs: the job stops after its checks
(``_run_locked`` is replaced), so each example costs milliseconds.

Profiles as the renderer fuzz (:mod:`fuzz_cases`): ``ci`` (derandomized, a few seconds,
in ``nox -s tests``) and ``long`` (``nox -s fuzz``, ``$FUZZ_EXAMPLES`` examples).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from fuzz_cases import settings  # registers and loads the profiles
from hypothesis import given
from hypothesis import strategies as st

import bench_softras.main_job as main_job
from bench_softras import cli
from bench_softras.data import CACHE_ENV
from bench_softras.settings import SECTIONS, SMOKE

#: Dotted names of every field ``--set`` may change (nested model fields included).
FIELDS = sorted(
    [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(getattr(SMOKE, s))
     if not dataclasses.is_dataclass(getattr(getattr(SMOKE, s), f.name))]
    + [f"recon.model.{f.name}" for f in dataclasses.fields(SMOKE.recon.model)]
    + ["synthetic_data", "seeds", "nosuch.field", "recon.nosuch"])
NASTY = ["inf", "-inf", "nan", "-1", "0", "1", "1e309", "2,3", "1.5,0.9", "", "abc",
         "true", "bogus", "0.5,0.5,0.5", "-0", "9999999999999999999999", "cube", "test"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",),
                             exclude_characters="\x00"), max_size=12)
VALUES = st.one_of(st.sampled_from(NASTY), TEXT)
RUN_IDS = st.one_of(st.sampled_from(["a", "..", ".", "../x", "a/b", "/abs", "~", "x" * 300,
                                     "run id", "-x"]), TEXT)


@contextlib.contextmanager
def sandbox():
    """``(base, roots)``: a directory alone in a private temporary directory (a write
    that escapes upwards shows there) and, inside it, the results, reports and
    data-cache roots (``$SOFTRAS_BENCH_DATA`` points at the cache meanwhile)."""
    outer = Path(tempfile.mkdtemp(prefix="cli-fuzz-"))
    base = outer / "sandbox"
    roots = {k: base / k for k in ("results", "reports", "cache", "in")}
    for r in roots.values():
        r.mkdir(parents=True)
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(roots["cache"])
    try:
        yield base, roots
    finally:
        if old is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = old
        shutil.rmtree(outer, ignore_errors=True)


def _stub_run_locked(cfg, plan):
    """Stands for the stages: the checks passed (status 0), nothing is run."""
    return {"markdown": Path(cfg.report_dir) / "report.md",
            "html": Path(cfg.report_dir) / "report.html"}


def run_cli(argv: list[str], base: Path, roots: dict[str, Path]) -> tuple[int, str]:
    """``cli.main(argv)`` in-process from inside ``base``; returns ``(status, stderr)``
    after checking the properties (module docstring)."""
    err = io.StringIO()
    cwd = os.getcwd()
    real = main_job._run_locked
    main_job._run_locked = _stub_run_locked
    try:
        os.chdir(roots["in"])
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(argv)
    finally:
        os.chdir(cwd)
        main_job._run_locked = real
    text = err.getvalue()
    assert code in (0, 2), (argv, code, text)
    assert "Traceback" not in text, (argv, text)
    if code == 2:
        assert len([ln for ln in text.splitlines() if "error" in ln]) == 1, (argv, text)
    escaped = [p.name for p in base.parent.iterdir() if p != base]
    assert not escaped, f"{argv} wrote {escaped} outside {base}"
    outside = [p for p in base.rglob("*") if not any(
        p == r or r in p.parents for r in roots.values())]
    assert not outside, (argv, outside)
    return code, text


@given(sets=st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), max_size=3),
       seeds=st.one_of(st.none(), VALUES), run_id=st.one_of(st.none(), RUN_IDS),
       categories=st.one_of(st.none(), VALUES), renderers=st.one_of(st.none(), VALUES),
       stages=st.one_of(st.none(), VALUES), shapes=st.one_of(st.none(), VALUES))
def test_report_options(sets, seeds, run_id, categories, renderers, stages, shapes):
    with sandbox() as (base, roots):
        argv = ["report", "--preset", "smoke", "--no-progress",
                "--results-root", str(roots["results"]), "--reports-root", str(roots["reports"])]
        for field, value in sets:
            argv += ["--set", f"{field}={value}"]
        for opt, value in (("--seeds", seeds), ("--run-id", run_id),
                           ("--categories", categories), ("--renderers", renderers),
                           ("--stages", stages), ("--fit-shapes", shapes)):
            if value is not None:
                argv.append(f"{opt}={value}")
        run_cli(argv, base, roots)


# -- damaged results directories ----------------------------------------------------------
FIT_ROW = {"renderer": "softras", "shape": "cube", "category": "cube", "step": 0,
           "loss": 1.0, "voxel_iou": 0.5, "silhouette_iou": 0.6, "color_mse": 0.0,
           "seed": 0, "wall_s": 0.1, "preset": "smoke"}


def good_results(d: Path) -> list[Path]:
    """A small results directory a report can be built from; returns its files."""
    (d / "fitting").mkdir(parents=True)
    (d / "examples").mkdir()
    (d / "run.json").write_text(json.dumps({"run_id": "fz", "config": {"preset": "smoke"}}))
    (d / "fitting" / "stage.json").write_text(json.dumps({"status": "done"}))
    fit = pd.DataFrame([FIT_ROW, {**FIT_ROW, "step": 3, "renderer": "hard"}])
    fit.to_csv(d / "fitting" / "fitting.csv", index=False)
    fit.to_parquet(d / "fitting" / "fitting.parquet")
    np.savez(d / "examples" / "examples.npz", fit_views=np.arange(3))
    (d / "environment.json").write_text(json.dumps({"python": "3"}))
    (d / "renderers.json").write_text(json.dumps([]))
    return sorted(p for p in d.rglob("*") if p.is_file())


DAMAGE = st.sampled_from(["truncate", "garbage", "empty", "json", "delete", "zero rows"])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(
                               st.text(max_size=5), c, max_size=3), max_leaves=6)


#: The ci profile builds a report per example (about 1 s): a few examples only.
SHORT = settings(max_examples=4) if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" \
    else settings()


@SHORT
@given(damage=st.lists(st.tuples(st.integers(0, 20), DAMAGE, st.integers(0, 10_000),
                                 st.binary(max_size=64), JSON_VALUES), max_size=3))
def test_report_from_damaged_results(damage):
    with sandbox() as (base, roots):
        d = roots["results"] / "fz"
        files = good_results(d)
        for index, kind, cut, junk, value in damage:
            path = files[index % len(files)]
            if not path.exists():
                continue
            if kind == "truncate":
                path.write_bytes(path.read_bytes()[: cut % max(1, path.stat().st_size)])
            elif kind == "garbage":
                path.write_bytes(junk)
            elif kind == "empty":
                path.write_bytes(b"")
            elif kind == "json":
                path.write_text(json.dumps(value))
            elif kind == "delete":
                path.unlink()
            elif path.suffix in (".csv", ".parquet"):
                pd.DataFrame(columns=list(FIT_ROW)).to_csv(path, index=False) \
                    if path.suffix == ".csv" else \
                    pd.DataFrame(columns=list(FIT_ROW)).to_parquet(path)
        run_cli(["report", "--from-results", str(d), "--report-dir",
                 str(roots["reports"] / "fz")], base, roots)
