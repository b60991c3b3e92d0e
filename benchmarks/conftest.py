"""Print the memory figures the benchmarks record in ``extra_info`` after the
pytest-benchmark timing table."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    benches = getattr(session, "benchmarks", None) or []
    rows = [(b.name, b.extra_info) for b in benches  # pytest_benchmark.stats.Metadata
            if "peak_rss_mb" in (getattr(b, "extra_info", None) or {})]
    if not rows:
        return
    tr = terminalreporter
    tr.write_sep("-", "memory (one forward+backward, RSS sampled every 0.5 ms)")
    tr.write_line(f"{'name':<45}{'peak RSS MB':>14}{'increase MB':>14}")
    for name, info in rows:
        tr.write_line(f"{name:<45}{info['peak_rss_mb']:>14.1f}"
                      f"{info['peak_rss_increase_mb']:>14.1f}")
