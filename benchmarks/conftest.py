"""Benchmark fixtures and the summary printed after pytest-benchmark's timing table.

* Thread pools: sized once here (:func:`renderers.threads.configure`, defaults or
  ``$SOFTRAS_BENCH_THREADS``), with passive OpenMP waiting set before torch loads.
* ``load``: every benchmark that takes it runs twice, ``idle`` and ``loaded`` (two busy
  background processes, :func:`bench_softras.studies.background_load.busy_processes`,
  started before and killed after that benchmark).
* The summary (``pytest_terminal_summary``): the thread settings and load averages; the
  memory figures; per renderer the idle and loaded medians and their ratio (target
  at most :data:`LOAD_RATIO_TARGET`); ``softras`` against ``pytorch3d_soft`` when both
  ran; the training-step split; the 1-vs-2-thread scaling table
  (``test_bench_scaling.py``).
"""

from __future__ import annotations

import os

from renderers.threads import prefer_passive_wait  # isort: skip

prefer_passive_wait()  # before torch loads its OpenMP runtime

import pytest  # noqa: E402
from background import LOAD_RATIO_TARGET  # noqa: E402

from bench_softras.studies.background_load import busy_processes  # noqa: E402

LOADS = ("idle", "loaded")
_LOADAVG: dict[str, tuple[float, float, float]] = {}


def pytest_sessionstart(session):
    from renderers import threads

    threads.configure()
    _LOADAVG["start"] = os.getloadavg()


@pytest.fixture(params=LOADS)
def load(request):
    """``"idle"``, or ``"loaded"`` with two busy background processes while the test runs."""
    if request.param == "idle":
        yield "idle"
        return
    with busy_processes(2, max_seconds=1800):
        yield "loaded"


def _median(bench) -> float | None:
    stats = getattr(bench, "stats", None)
    try:
        return float(stats.median) if stats is not None and stats.rounds else None
    except (AttributeError, TypeError):
        return None


def _rows(config):
    session = getattr(config, "_benchmarksession", None)
    return [(b, getattr(b, "extra_info", None) or {})
            for b in (getattr(session, "benchmarks", None) or [])]


def _memory(tr, rows) -> None:
    mem = [(b.name, i) for b, i in rows if "peak_rss_mb" in i]
    if not mem:
        return
    tr.write_sep("-", "memory (one forward+backward, RSS sampled every 0.5 ms)")
    tr.write_line(f"{'name':<55}{'peak RSS MB':>14}{'increase MB':>14}")
    for name, info in mem:
        tr.write_line(f"{name:<55}{info['peak_rss_mb']:>14.1f}"
                      f"{info['peak_rss_increase_mb']:>14.1f}")


def _load_table(tr, rows) -> dict:
    """Idle vs loaded medians per ``extra_info['item']``; returns {item: {load: s}}."""
    by_item: dict[str, dict[str, float]] = {}
    for b, info in rows:
        t = _median(b)
        if "item" in info and "load" in info and t is not None:
            by_item.setdefault(info["item"], {})[info["load"]] = t
    if not by_item:
        return by_item
    tr.write_sep("-", f"idle vs two busy background processes (target loaded/idle <= "
                      f"{LOAD_RATIO_TARGET:g}x)")
    tr.write_line(f"{'item':<40}{'idle s':>10}{'loaded s':>10}{'ratio':>8}  verdict")
    for item, t in sorted(by_item.items()):
        idle, loaded = t.get("idle"), t.get("loaded")
        ratio = loaded / idle if idle and loaded else None
        cells = [f"{x:>10.3f}" if x is not None else f"{'-':>10}" for x in (idle, loaded)]
        verdict = "" if ratio is None else ("ok" if ratio <= LOAD_RATIO_TARGET else "MISSED")
        rtxt = f"{ratio:>7.2f}x" if ratio is not None else f"{'-':>8}"
        tr.write_line(f"{item:<40}{''.join(cells)}{rtxt}  {verdict}")
    return by_item


def _pytorch3d(tr, by_item) -> None:
    ours, theirs = by_item.get("fwd+bwd softras"), by_item.get("fwd+bwd pytorch3d_soft")
    if not ours or not theirs:
        return
    tr.write_sep("-", "pytorch3d_soft / softras (forward+backward, paper setting)")
    for load in LOADS:
        if load in ours and load in theirs:
            tr.write_line(f"{load:<10}{theirs[load] / ours[load]:>10.1f}x")


def _split(tr, rows) -> None:
    split = [(i["load"], i["split"]) for _, i in rows if "split" in i]
    if not split:
        return
    tr.write_sep("-", "training step split (cpu preset, median ms and share of the step)")
    for load, parts in split:
        step = parts["step"]
        cells = "  ".join(f"{k} {v * 1e3:.0f} ({v / step:.0%})" for k, v in parts.items()
                          if k != "step")
        tr.write_line(f"{load:<8} step {step * 1e3:.0f} ms: {cells}")


def _scaling(tr, rows) -> None:
    """1-vs-2-thread medians per renderer and pass (``test_bench_scaling.py``)."""
    from scaling import SCALING_TARGET

    t: dict[tuple[str, str], dict[int, float]] = {}
    for b, info in rows:
        if "scaling" in info and _median(b) is not None:
            s = info["scaling"]
            t.setdefault((s["renderer"], s["pass"]), {})[s["threads"]] = _median(b)
    if not t:
        return
    tr.write_sep("-", f"thread scaling, median ms (target: 2 threads >= {SCALING_TARGET:g}x "
                      "faster than 1, idle)")
    tr.write_line(f"{'renderer':<20}{'pass':<10}{'1 thread':>10}{'2 threads':>11}"
                  f"{'speed-up':>10}  verdict")
    for (label, kind), by in sorted(t.items()):
        if 1 in by and 2 in by:
            speed = by[1] / by[2]
            verdict = "ok" if speed >= SCALING_TARGET else "MISSED"
            tr.write_line(f"{label:<20}{kind:<10}{by[1] * 1e3:>10.1f}{by[2] * 1e3:>11.1f}"
                          f"{speed:>9.2f}x  {verdict}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = _rows(config)
    if not rows:
        return
    from renderers import threads

    tr = terminalreporter
    s = threads.settings()
    tr.write_sep("-", "machine")
    tr.write_line(f"threads {s['threads']} ({s['source']}), available cores "
                  f"{s['available_cores']}, OMP_WAIT_POLICY={s['OMP_WAIT_POLICY']} "
                  f"(effective: {s['passive_wait_effective']}); load average at start "
                  f"{_LOADAVG.get('start')}, at end {os.getloadavg()}")
    _memory(tr, rows)
    by_item = _load_table(tr, rows)
    _pytorch3d(tr, by_item)
    _split(tr, rows)
    _scaling(tr, rows)
