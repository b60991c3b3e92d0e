"""Today's code against an older commit's, timed side by side in one run
(``benchmarks/targets.py``, targets 2 and 3 of issue 22).

The older commit's packages are exported from this clone's git history
(:func:`export_commit`: ``git archive``, extracted with :mod:`tarfile`'s ``data`` filter
into a temporary folder).  Two worker processes (:mod:`side_worker`), one with the old
folder first on ``PYTHONPATH`` and one with this checkout, each compile and warm up once,
then are asked in alternation for a few timed calls, so both see the same machine.  The
same code runs a few percent faster or slower from one process to the next (identical
code timed this way on the 2-core VM, four runs: 0.94x-1.02x), so the bench times several fresh
pairs one after the other and pools their calls.  When
the history is missing (no ``.git``, a shallow clone without the commit) the row is
skipped with that reason.
"""

from __future__ import annotations

import io
import json
import os
import select
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

from background import stop
from scaling import pair_spread
from target_table import Criterion, Row

#: The first kernels (target 2's baseline) and the code before issue 22's training-step
#: work (target 3's baseline).
FIRST_KERNELS = "8e443d0"
STEP_BASELINE = "3b7d54b"
WORKER = Path(__file__).resolve().with_name("side_worker.py")
#: Thread-count variables removed from the workers' environment: both versions run at
#: their default threads (the OpenMP wait policy the bench set is kept, the same for both).
THREAD_COUNTS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "SOFTRAS_BENCH_THREADS")
#: Seconds a worker may take to start (imports, data, Taichi compilation) and per request.
START_TIMEOUT = 600.0
CALL_TIMEOUT = 900.0


class HistoryMissing(Exception):
    """The commit is not in this clone's history (the message says why)."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True)


def export_commit(root: Path, commit: str, paths: tuple[str, ...], dest: Path) -> None:
    """Extract ``paths`` of ``commit`` from the git history of ``root`` into ``dest``;
    :class:`HistoryMissing` when there is no history or no such commit."""
    try:
        found = _git(root, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    except FileNotFoundError as exc:
        raise HistoryMissing("git is not installed") from exc
    if found.returncode != 0:
        shallow = _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
        where = ("this is a shallow clone" if shallow else
                 "this checkout has no git history" if not (root / ".git").exists() else
                 "the history does not contain it")
        raise HistoryMissing(f"git history missing: commit {commit} not found ({where}); "
                             "measure it in a full clone (git fetch --unshallow)")
    archive = _git(root, "archive", "--format=tar", commit, *paths)
    if archive.returncode != 0:
        raise HistoryMissing(f"git archive {commit} {' '.join(paths)} failed: "
                             f"{archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout), mode="r:") as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
            tar.extractall(dest, filter="data")
            return
        members = tar.getmembers()  # older: only plain files and folders, inside dest
        bad = [m.name for m in members if not (m.isfile() or m.isdir())
               or Path(m.name).is_absolute() or ".." in Path(m.name).parts]
        if bad:
            raise HistoryMissing(f"git archive {commit} holds unsafe entries {bad[:3]}")
        tar.extractall(dest, members=members)  # noqa: S202 - checked above


class Worker:
    """A :mod:`side_worker` process for ``task`` importing the code under ``root``."""

    def __init__(self, task: str, root: Path, log: Path, **options: str) -> None:
        cmd = [sys.executable, str(WORKER), "--task", task, "--root", str(root)]
        for key, value in options.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
        env = {k: v for k, v in os.environ.items() if k not in THREAD_COUNTS}
        env["PYTHONPATH"] = str(root)
        self.root, self.log = root, log
        self._err = open(log, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True,
                                     start_new_session=True)

    def _reply(self, timeout: float) -> dict:
        ready = select.select([self.proc.stdout], [], [], timeout)[0]
        line = self.proc.stdout.readline() if ready else ""
        msg = json.loads(line) if line.startswith("{") else {}
        if "error" in msg or not msg:
            self._err.flush()
            tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
            why = msg.get("error") or (f"no answer within {timeout:g} s" if not ready else
                                       f"exited ({self.proc.poll()})")
            raise RuntimeError(f"worker for {self.root}: {why}; {' | '.join(tail)}")
        return msg

    def ready(self) -> dict:
        """Wait for the worker's ready line."""
        return self._reply(START_TIMEOUT)

    def time(self, calls: int) -> list[float]:
        """Seconds of each of ``calls`` timed calls."""
        self.proc.stdin.write(f"{calls}\n")
        self.proc.stdin.flush()
        return self._reply(CALL_TIMEOUT)["times"]

    def close(self) -> None:
        """Stop the process (it is killed) and close its log."""
        stop([self.proc])
        self.proc.stdin.close()
        self._err.close()


def alternate(old: Worker, new: Worker, rounds: int, calls: int) -> dict[str, list[float]]:
    """``{"old": seconds, "new": seconds}``: ``rounds`` alternations of ``calls`` timed
    calls each, the order swapped every round."""
    out: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(rounds):
        order = (("old", old), ("new", new)) if r % 2 == 0 else (("new", new), ("old", old))
        for name, w in order:
            out[name] += w.time(calls)
    return out


class Pooled(NamedTuple):
    """Every pair's timed calls pooled (:func:`pooled_ratio`): seconds per call."""

    ratio: float  #: ``old / new``, the medians of the pooled calls
    per_pair: list[float]  #: each pair's own ratio of medians
    old: float  #: median of every pair's old calls
    new: float  #: median of every pair's new calls
    old_s: list[float]  #: the old calls, pair after pair
    new_s: list[float]  #: the new calls, pair after pair


def pooled_ratio(pairs: list[dict[str, list[float]]]) -> Pooled:
    """``old / new`` of the medians of every pair's pooled times, and each pair's own
    ratio (the spread between fresh processes: on a VM the same code runs a few percent
    faster or slower from one process to the next)."""
    old = [t for p in pairs for t in p["old"]]
    new = [t for p in pairs for t in p["new"]]
    per_pair = [statistics.median(p["old"]) / statistics.median(p["new"]) for p in pairs]
    med_old, med_new = statistics.median(old), statistics.median(new)
    return Pooled(med_old / med_new, per_pair, med_old, med_new, old, new)


def _time_pair(task: str, old_root: Path, new_root: Path, tmp: Path, k: int, rounds: int,
               calls: int, options: dict[str, str]) -> dict[str, list[float]]:
    """One fresh pair of workers (old, new): both compile and warm up at once (no timing
    yet), then ``rounds`` alternations of ``calls`` timed calls (:func:`alternate`)."""
    with ExitStack() as stack:
        workers = {}
        for name, where in (("old", old_root), ("new", new_root)):
            w = Worker(task, where, tmp / f"{name}-{k}.log", **options)
            stack.callback(w.close)
            workers[name] = w
        for w in workers.values():
            w.ready()
        return alternate(workers["old"], workers["new"], rounds, calls)


def compare_commits(task: str, commit: str, paths: tuple[str, ...], rounds: int, calls: int,
                    root: Path, *, target: str, item: str, criterion: Criterion,
                    pairs: int = 1, **options: str) -> Row:
    """The row ``old / new`` (median seconds per call over every pair) for ``task`` at
    ``commit`` against the checkout ``root``, timed in ``pairs`` fresh pairs of worker
    processes one after the other (:func:`pooled_ratio`); skipped when the history is
    missing."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{commit}-") as tmp:
        old_root = Path(tmp, "code")
        old_root.mkdir()
        try:
            export_commit(root, commit, paths, old_root)
        except HistoryMissing as exc:
            return Row(target, item, criterion, skip=str(exc))
        if task == "softras":
            options = {**options, "scene": str(_write_scene(Path(tmp)))}
        t0 = time.perf_counter()
        timed = [_time_pair(task, old_root, root, Path(tmp), k, rounds, calls, options)
                 for k in range(pairs)]
    pooled = pooled_ratio(timed)
    spread = pair_spread(pooled.per_pair, None)
    spread = f"; {spread}" if spread else ""
    return Row(target, item, criterion, pooled.ratio,
               detail=f"{commit} {pooled.old * 1e3:.1f} ms, today {pooled.new * 1e3:.1f} ms "
                      f"(medians of {rounds * calls * pairs} calls each: {pairs} fresh "
                      f"process pair(s) x {rounds} alternations{spread}; "
                      f"{time.perf_counter() - t0:.0f} s)",
               extra={"old_s": pooled.old_s, "new_s": pooled.new_s,
                      "pair_ratios": pooled.per_pair})


def _write_scene(tmp: Path) -> Path:
    """The paper setting's scene for :mod:`side_worker` (``scene.npz``)."""
    import numpy as np
    from scaling import BATCH

    from metrics.meshes import template_sphere

    v, f = template_sphere()
    path = tmp / "scene.npz"
    np.savez(path, vertices=np.asarray(v, np.float32), faces=np.asarray(f, np.int64),
             views=np.arange(BATCH, dtype=np.int64) % 24)
    return path
