"""``benchmarks/side_by_side.py`` and the harness around it: exporting an older commit,
the row skipped (with the reason) when the history is missing, the worker's check that
it runs the code it was given, the scaling verdict's rule, and a failed section reported
as a row (no timing)."""

from __future__ import annotations

import statistics
import subprocess
import tarfile
from pathlib import Path

import pytest
import scaling
import side_by_side
from side_by_side import HistoryMissing, Worker, compare_commits, export_commit
from target_table import NO_FIGURE, SKIPPED, Criterion

ROOT = Path(__file__).resolve().parents[2]


def _repo(path: Path) -> str:
    """A one-commit git repository at ``path`` holding ``pkg/mod.py``; its commit."""
    path.mkdir()
    (path / "pkg").mkdir()
    (path / "pkg" / "mod.py").write_text("X = 1\n")
    (path / "other.txt").write_text("no\n")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    return subprocess.run([*git[:3], "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("tar_filter", [True, False])
def test_export_commit_extracts_only_the_paths(tmp_path, monkeypatch, tar_filter):
    if not tar_filter:  # a Python without tarfile's extraction filters
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    commit = _repo(tmp_path / "repo")
    export_commit(tmp_path / "repo", commit, ("pkg",), tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert not (tmp_path / "out" / "other.txt").exists()


def test_missing_history_is_named(tmp_path):
    _repo(tmp_path / "repo")
    with pytest.raises(HistoryMissing, match="commit 8e443d0 not found .*does not contain"):
        export_commit(tmp_path / "repo", "8e443d0", ("pkg",), tmp_path / "out")
    (tmp_path / "bare").mkdir()
    with pytest.raises(HistoryMissing, match="no git history"):
        export_commit(tmp_path / "bare", "8e443d0", ("pkg",), tmp_path / "out")


def test_compare_commits_skips_the_row_without_history(tmp_path):
    row = compare_commits("softras", "8e443d0", ("renderers",), 1, 1, tmp_path, target="2",
                          item="softras", criterion=Criterion(">=", 3.0))
    assert row.verdict == SKIPPED and row.ratio is None
    assert row.skip.startswith("git history missing: commit 8e443d0 not found")


def test_pooled_ratio_pools_every_pair_and_reports_each():
    pairs = [{"old": [3.0, 3.0, 3.2], "new": [1.0, 1.1, 1.0]},
             {"old": [2.0, 2.2, 2.0], "new": [1.0, 1.0, 1.0]}]
    pooled = side_by_side.pooled_ratio(pairs)
    # pooled: median(3, 3, 3.2, 2, 2.2, 2) = 2.6; median(1, 1.1, 1, 1, 1, 1) = 1
    assert pooled.ratio == pytest.approx(2.6)
    assert (pooled.old, pooled.new) == (pytest.approx(2.6), pytest.approx(1.0))
    assert pooled.per_pair == [pytest.approx(3.0), pytest.approx(2.0)]
    assert pooled.old_s == [3.0, 3.0, 3.2, 2.0, 2.2, 2.0] and len(pooled.new_s) == 6


def test_compare_commits_times_fresh_worker_pairs(tmp_path, monkeypatch):
    """``pairs`` pairs of workers, started one pair after the other, each closed before
    the next starts; the row pools their calls and names the spread."""
    commit = _repo(tmp_path / "repo")
    events = []

    class FakeWorker:
        def __init__(self, task, root, log, **options):
            self.name = "new" if root == tmp_path / "repo" else "old"
            events.append(("start", self.name))

        def ready(self):
            return {"ready": True}

        def time(self, calls):
            return [3.0 if self.name == "old" else 1.0 + 0.5 * events.count(("start", "new"))
                    ] * calls

        def close(self):
            events.append(("close", self.name))

    monkeypatch.setattr(side_by_side, "Worker", FakeWorker)
    row = compare_commits("step", commit, ("pkg",), 2, 3, tmp_path / "repo", target="3",
                          item="step", criterion=Criterion(">=", 2.0), pairs=2)
    assert events == [("start", "old"), ("start", "new"), ("close", "new"), ("close", "old"),
                      ("start", "old"), ("start", "new"), ("close", "new"), ("close", "old")]
    assert row.extra["pair_ratios"] == [pytest.approx(2.0), pytest.approx(1.5)]
    assert len(row.extra["old_s"]) == len(row.extra["new_s"]) == 12
    assert row.ratio == pytest.approx(3.0 / 1.75)  # median of six 1.5 s and six 2.0 s calls
    assert "2 fresh process pair(s)" in row.detail and "1.50x-2.00x" in row.detail


def test_the_baselines_are_in_this_clones_history():
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True)
    if shallow.returncode != 0 or shallow.stdout.strip() == "true":
        pytest.skip("no full git history here (a shallow clone or an export)")
    for commit in (side_by_side.FIRST_KERNELS, side_by_side.STEP_BASELINE):
        done = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"])
        assert done.returncode == 0, commit


def test_worker_refuses_code_from_another_folder(tmp_path):
    (tmp_path / "code").mkdir()  # empty: renderers comes from elsewhere (or not at all)
    w = Worker("step", tmp_path / "code", tmp_path / "log.txt", data_dir=str(tmp_path))
    try:
        with pytest.raises(RuntimeError, match="worker for .*code"):
            w.ready()
    finally:
        w.close()
    assert w.proc.returncode is not None


def _timing(wall, cpu, wait, main):
    return {"wall": wall, "cpu": cpu, "wait": wait, "main": main}


def test_scaling_verdict_uses_wall_time_when_idle_and_the_estimate_when_busy():
    one, two = _timing(0.10, 0.10, 0.0, 0.10), _timing(0.05, 0.10, 0.0, 0.02)
    assert scaling.judged_speedup(one, two) == (pytest.approx(2.0), False)
    busy_two = _timing(0.20, 0.10, 0.05, 0.02)  # waited half its CPU time for a core
    speed, estimated = scaling.judged_speedup(one, busy_two)
    assert estimated and speed == pytest.approx(0.10 / (0.02 + 0.04))


def test_a_failed_section_becomes_a_row_with_no_figure(monkeypatch, tmp_path):
    import targets

    def fail(plan, data_dir):
        raise OSError("disk full\nno space left")

    monkeypatch.setattr(targets, "measure_share", fail)
    rows = targets.run_section("share", [], targets.QUICK, tmp_path, lambda: "")
    assert len(rows) == 1 and rows[0].verdict == NO_FIGURE
    assert rows[0].detail == "failed: OSError: no space left" and rows[0].target == "4"
    assert rows[0].load_before is not None and rows[0].load_after is not None


def test_sections_option_refuses_unknown_names():
    import targets

    assert targets.parse_args(["--only", "load,share"]).only == ["load", "share"]
    with pytest.raises(SystemExit) as exc:
        targets.parse_args(["--only", "load,speed"])
    assert exc.value.code == 2
    assert targets.parse_args(["--renderers", "softras[autodiff],hard"]).renderers
    with pytest.raises(SystemExit) as exc:
        targets.parse_args(["--renderers", "softras,nosuch"])
    assert exc.value.code == 2


def test_scaling_merges_fresh_processes_started_alternately(monkeypatch):
    calls = []

    def fake_worker(n, labels, step, rounds):
        calls.append(n)
        k = calls.count(n)  # 1st, 2nd, 3rd process at this count
        t = _timing(0.1 * k, 0.2 * k, 0.0, 0.05)
        out = {"threads": n, "load_start": float(len(calls)), "load_end": float(len(calls)),
               "renderers": {"softras": {"forward": t, "backward": t, "fwd+bwd": t}}}
        if step:
            out["step"] = {"step": t, "split": {"generator": 0.01 * k, "renderer": 0.02}}
        return out

    monkeypatch.setattr(scaling, "run_worker", fake_worker)
    results = scaling.run_workers(["softras"], True, rounds=2, processes=3)
    assert calls == [1, 2, 1, 2, 1, 2]
    one = results[1]
    assert one["processes"] == 3 and one["load_start"] == 1.0 and one["load_end"] == 5.0
    assert one["renderers"]["softras"]["forward"] == pytest.approx(_timing(0.2, 0.4, 0.0, 0.05))
    assert one["step"]["split"] == pytest.approx({"generator": 0.02, "renderer": 0.02})
    assert "medians over 3 fresh process(es)" in scaling.format_table(results)


def test_scaling_verdict_follows_other_processes_when_measured():
    """Run-queue wait from the worker's own threads on an idle machine (no other
    process used the cores) keeps the wall-time verdict; other processes' CPU time
    above the threshold switches every row to the estimate."""
    one, waited_two = _timing(0.10, 0.10, 0.0, 0.10), _timing(0.05, 0.10, 0.05, 0.02)
    idle = {1: {"others_cores": 0.01}, 2: {"others_cores": 0.02}}
    busy = {1: {"others_cores": 0.01}, 2: {"others_cores": 0.9}}
    assert scaling.machine_busy(idle) is False and scaling.machine_busy(busy) is True
    assert scaling.machine_busy({1: {}, 2: {"others_cores": None}}) is None
    assert scaling.judged_speedup(one, waited_two, False) == (pytest.approx(2.0), False)
    speed, estimated = scaling.judged_speedup(one, waited_two, True)
    assert estimated and speed == pytest.approx(0.10 / (0.02 + 0.04))
    assert scaling.judged_speedup(one, waited_two)[1]  # unknown: the row's own wait

    def results(others):
        return {n: {"threads": n, "others_cores": o, "load_start": 1.0, "load_end": 1.0,
                    "renderers": {"softras": {"forward": t, "backward": t, "fwd+bwd": t}}}
                for n, o, t in zip((1, 2), others, (one, waited_two), strict=True)}

    def forward_line(table):
        return next(x for x in table.splitlines() if x.startswith("softras  ") and "forward" in x)

    idle_table = scaling.format_table(results((0.01, 0.02)))
    assert "up to 0.02 cores while the workers ran: idle" in idle_table
    assert forward_line(idle_table).endswith("ok")  # the wall ratio, 2.00x
    busy_table = scaling.format_table(results((0.01, 0.9)))
    assert "up to 0.90 cores while the workers ran: busy" in busy_table
    assert forward_line(busy_table).endswith("MISSED")  # the estimate, 1.67x


def test_worker_measures_other_processes_cpu():
    """A busy spell of this process shows in its own CPU time and, at least as much
    (to tick rounding), in the machine's (``/proc/stat``), so the difference the
    workers record as other processes' use excludes it."""
    import time

    m0, o0, t0 = scaling.machine_cpu_seconds(), scaling.own_cpu_seconds(), time.perf_counter()
    while scaling.own_cpu_seconds() - o0 < 0.3 and time.perf_counter() - t0 < 20:
        pass
    m1, o1 = scaling.machine_cpu_seconds(), scaling.own_cpu_seconds()
    assert o1 - o0 >= 0.3
    assert m1 - m0 >= (o1 - o0) - 0.05


def test_scaling_table_for_other_thread_counts():
    """``--threads 1,4,16`` (a GPU machine's host): wall ms per count, the speed-up of
    each count over the first, the verdict against 8x at 16 for forward and backward."""
    def result(n, wall):
        t = _timing(wall, wall * n, 0.0, 0.001)
        return {"threads": n, "others_cores": 0.02, "load_start": 1.0, "load_end": 2.0,
                "renderers": {"softras": {"forward": t, "backward": t, "fwd+bwd": t}},
                "step": {"step": t, "split": {"generator": wall}}}

    table = scaling.format_counts({1: result(1, 0.16), 4: result(4, 0.05),
                                   16: result(16, 0.016)})
    lines = table.splitlines()
    assert "16 thr ms" in lines[0] and "x16" in lines[0] and ">= 8x at 16" in lines[0]
    forward = next(x for x in lines if x.startswith("softras") and "forward" in x)
    assert "160.0" in forward and "3.20x" in forward and "10.00x" in forward
    assert forward.endswith("ok")
    step = next(x for x in lines if x.startswith("training step"))
    assert not step.rstrip().endswith(("ok", "MISSED"))  # no verdict for the step
    assert "other processes used up to 0.02 cores" in lines[-1]
    slow = scaling.format_counts({1: result(1, 0.16), 16: result(16, 0.04)})
    assert next(x for x in slow.splitlines() if "backward" in x).endswith("MISSED")


def test_scaling_thread_counts_option():
    assert scaling._thread_counts("16,1,4") == (1, 4, 16)
    for bad in ("1", "0,2", "1,two", ""):
        with pytest.raises(Exception, match="two or more positive thread counts"):
            scaling._thread_counts(bad)
    with pytest.raises(SystemExit) as exc:
        scaling.main(["--threads", "1,100000"])
    assert exc.value.code == 2


def test_scaling_estimate_without_cpu_time_is_no_figure():
    """A call too short for the scheduler to count its CPU time on a busy machine
    (schedstat reads 0) gives no estimate, not a speed-up of 0."""
    one, busy_two = _timing(0.003, 0.0, 0.002, 0.0), _timing(0.008, 0.004, 0.004, 0.004)
    speed, estimated = scaling.judged_speedup(one, busy_two)
    assert estimated and speed != speed  # NaN


def test_scaling_rows_from_worker_results(monkeypatch, tmp_path):
    import targets

    idle1, idle2 = _timing(0.10, 0.10, 0.0, 0.10), _timing(0.05, 0.10, 0.0, 0.02)
    short1, short2 = _timing(0.003, 0.0, 0.002, 0.0), _timing(0.008, 0.004, 0.004, 0.004)

    def fake_worker(n, labels, step, rounds):
        one = n == scaling.THREADS[0]
        passes = {"forward": idle1 if one else idle2, "backward": short1 if one else short2,
                  "fwd+bwd": idle1 if one else idle2}
        return {"threads": n, "load_start": 1.0, "load_end": 1.0,
                "renderers": {label: passes for label in labels}}

    monkeypatch.setattr(scaling, "run_worker", fake_worker)
    rows = targets.measure_scaling(["softras"], targets.QUICK, tmp_path)
    assert [(r.item, r.verdict) for r in rows] == [
        ("softras forward 2 vs 1 thread", "met"), ("softras backward 2 vs 1 thread", SKIPPED)]
    assert rows[0].ratio == pytest.approx(2.0) and "idle wall times" in rows[0].detail
    assert "too short for a CPU-time estimate" in rows[1].skip
    assert (tmp_path / "scaling.json").exists()


def _pair_results(walls_one, walls_two, others=0.01):
    """``run_workers``-shaped results of one renderer whose forward took ``walls_one``
    / ``walls_two`` seconds in the successive 1- and 2-thread processes."""
    def fake_worker(n, labels, step, rounds):
        walls = walls_one if n == 1 else walls_two
        k = sum(1 for c in seen if c == n)
        seen.append(n)
        t = _timing(walls[k], walls[k] * n, 0.0, 0.001)
        return {"threads": n, "load_start": 1.0, "load_end": 1.0, "others_cores": others,
                "renderers": {"softras": {"forward": t, "backward": t, "fwd+bwd": t}}}

    seen: list[int] = []
    return fake_worker


def test_scaling_names_each_process_pairs_speed_up(monkeypatch, tmp_path):
    """Per pair of processes (the k-th at 1 and at 2 threads) the wall speed-up; the
    table and the target rows give their range and say when the target lies inside it."""
    import targets

    monkeypatch.setattr(scaling, "run_worker", _pair_results([0.30, 0.20, 0.24],
                                                             [0.20, 0.10, 0.16]))
    results = scaling.run_workers(["softras"], False, rounds=2, processes=3)
    assert results[1]["walls"]["softras"]["forward"] == [0.30, 0.20, 0.24]
    pairs = scaling.pair_speedups(results, "softras", "forward")
    assert pairs == pytest.approx([1.5, 2.0, 1.5])
    assert scaling.pair_spread(pairs) == "per pair 1.50x-2.00x, on both sides of the target"
    assert scaling.pair_spread([1.8, 1.9]) == "per pair 1.80x-1.90x"
    assert scaling.pair_spread(pairs, None) == "per pair 1.50x-2.00x"  # no target: no note
    assert scaling.pair_range(pairs) == "1.50-2.00x" and scaling.pair_range([1.5]) == ""
    assert scaling.pair_spread([1.8]) == "" and scaling.pair_speedups({1: {}, 2: {}}, "x",
                                                                      "forward") == []
    line = next(x for x in scaling.format_table(results).splitlines()
                if x.startswith("softras") and "forward" in x)
    assert "1.50-2.00x" in line and line.endswith("MISSED")  # median 0.24 / 0.16 = 1.5x
    monkeypatch.setattr(scaling, "run_worker", _pair_results([0.30, 0.20, 0.24],
                                                             [0.20, 0.10, 0.16]))
    rows = targets.measure_scaling(["softras"], targets.Plan(scaling_processes=3,
                                                             scaling_rounds=2), tmp_path)
    assert "per pair 1.50x-2.00x, on both sides of the target" in rows[0].detail


def test_other_thread_counts_name_the_highest_counts_per_pair_speed_up():
    """``--threads 1,4,16``: each row also gives the range of the 16-thread speed-up over
    the pairs of processes (the k-th at 1 and at 16 threads)."""
    def result(n, walls):
        t = _timing(statistics.median(walls), 0.1, 0.0, 0.001)
        return {"threads": n, "others_cores": 0.0, "load_start": 1.0, "load_end": 1.0,
                "renderers": {"softras": {"forward": t, "backward": t, "fwd+bwd": t}},
                "walls": {"softras": {k: walls for k in ("forward", "backward", "fwd+bwd")}}}

    results = {1: result(1, [0.16, 0.20, 0.18]), 4: result(4, [0.05, 0.05, 0.05]),
               16: result(16, [0.02, 0.02, 0.025])}
    lines = scaling.format_counts(results).splitlines()
    assert "x16 per pair" in lines[0]
    forward = next(x for x in lines if x.startswith("softras") and "forward" in x)
    assert "7.20-10.00x" in forward and forward.endswith("ok")  # median 0.18 / 0.02 = 9x
    assert scaling.pair_speedups(results, "softras", "forward", (1, 4)) == \
        pytest.approx([3.2, 4.0, 3.6])


def test_a_zero_gradient_backward_is_not_judged(monkeypatch, tmp_path):
    """``hard``'s backward runs no kernel (its gradient is zero by definition): the
    tables mark it n/a with the reason, the target rows skip it; its forward and every
    pass of the other renderers are judged as before."""
    import targets

    fast, slow = _timing(0.0003, 0.0003, 0.0, 0.0003), _timing(0.0003, 0.0003, 0.0, 0.0003)

    def fake_worker(n, labels, step, rounds):
        t = _timing(0.10 / n, 0.10, 0.0, 0.01)
        passes = {label: {"forward": t, "backward": (fast if n == 1 else slow)
                          if label == "hard" else t, "fwd+bwd": t} for label in labels}
        return {"threads": n, "load_start": 1.0, "load_end": 1.0, "others_cores": 0.0,
                "renderers": passes,
                "zero_gradient": [x for x in labels if x == "hard"]}

    monkeypatch.setattr(scaling, "run_worker", fake_worker)
    results = scaling.run_workers(["hard", "softras"], False, rounds=2, processes=2)
    assert scaling.no_kernel(results, "hard", "backward")
    assert not scaling.no_kernel(results, "hard", "forward")
    assert not scaling.no_kernel(results, "softras", "backward")
    table = scaling.format_table(results).splitlines()
    verdicts = {tuple(x.split()[:2]): x.split()[-1] for x in table
                if x.startswith(("hard", "softras")) and "fwd+bwd" not in x}
    assert verdicts == {("hard", "forward"): "ok", ("hard", "backward"): scaling.NO_KERNEL,
                        ("softras", "forward"): "ok", ("softras", "backward"): "ok"}
    assert scaling.NO_KERNEL_NOTE in table
    counts = scaling.format_counts(scaling.run_workers(["hard", "softras"], False, rounds=2,
                                                       processes=1, threads=(1, 16)))
    assert next(x for x in counts.splitlines() if x.startswith("hard") and "backward" in x
                ).endswith(scaling.NO_KERNEL) and scaling.NO_KERNEL_NOTE in counts
    rows = targets.measure_scaling(["hard", "softras"], targets.QUICK, tmp_path)
    by_item = {r.item: r for r in rows}
    assert by_item["hard backward 2 vs 1 thread"].verdict == SKIPPED
    assert "zero gradient" in by_item["hard backward 2 vs 1 thread"].skip
    assert by_item["hard forward 2 vs 1 thread"].verdict == "met"
    assert scaling.NO_KERNEL_NOTE not in scaling.format_table(
        scaling.run_workers(["softras"], False, rounds=2, processes=1))
