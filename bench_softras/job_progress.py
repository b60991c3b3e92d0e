"""Where the main job stands, for the console and ``run.log``: stage ``i/n``, the time
elapsed and an estimate of the time left, from each stage's planned units of work.

Each stage prices its own plan (:meth:`bench_softras.stages.base.Stage.seconds`: its
units of work, e.g. optimisation steps of the fits or training steps x batch of
reconstruction, times the cost of a unit measured with the ``cpu`` preset on two idle
cores; docs/running.md, "How long it takes here").  Once stages have run in
this call, the estimate is scaled by how fast this machine really was on them (their
wall time over their price), so it corrects itself as the job goes on.  Stages that
finished in an earlier call are skipped and cost nothing.

While a stage runs, a line every :data:`HEARTBEAT_S` seconds says how far the job is
when the progress bars are off (output not a terminal, or ``--no-progress``); the bars
flood a log file with carriage-return updates, so they are off by default there.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger("bench_softras.main_job")

#: Stages priced under this (seconds) do not enter the measured speed: their wall time is
#: mostly start-up (Taichi's kernel compilation), not their planned work.
CALIBRATE_ABOVE_S = 30.0
#: Seconds between two progress lines while a stage runs (progress bars off).
HEARTBEAT_S = 60.0


def progress_default() -> bool:
    """Progress bars by default only when the console is a terminal."""
    return sys.stderr.isatty()


def _clock(seconds: float) -> str:
    """``1h02m``, ``12m05s``, ``40s``."""
    s = int(round(max(0.0, seconds)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class JobProgress:
    """The plan of one call of the main job: ``planned`` maps every stage it goes
    through, in order, to its price in seconds (0 for a stage that will be skipped)."""

    planned: dict[str, float]
    heartbeat_s: float | None = HEARTBEAT_S
    start: float = field(default_factory=lambda: time.perf_counter())
    _paid: float = 0.0  # the price of the stages run so far ...
    _spent: float = 0.0  # ... and their wall time
    _stage: str | None = None
    _stage_start: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def speed(self) -> float:
        """Wall time over price of the stages run so far (1 before any)."""
        return self._spent / self._paid if self._paid > 0 and self._spent > 1.0 else 1.0

    def remaining(self) -> float:
        """Estimated seconds left: the rest of the current stage and the stages after it,
        at the speed measured so far."""
        names = list(self.planned)
        at = names.index(self._stage) + 1 if self._stage in names else 0
        later = sum(self.planned[n] for n in names[at:])
        now = 0.0
        if self._stage is not None:
            ran = time.perf_counter() - self._stage_start
            now = max(self.planned[self._stage] * self.speed() - ran, 0.0)
        return now + later * self.speed()

    def line(self) -> str:
        """``stage 3/7 reconstruction, elapsed 4m10s, about 28m00s left``."""
        names = list(self.planned)
        i = names.index(self._stage) + 1 if self._stage in names else 0
        return (f"stage {i}/{len(names)} {self._stage}, elapsed "
                f"{_clock(time.perf_counter() - self.start)}, about "
                f"{_clock(self.remaining())} left")

    def begin(self, stage: str) -> None:
        """Log the start of ``stage`` and start the heartbeat."""
        self._stage, self._stage_start = stage, time.perf_counter()
        if self.planned.get(stage, 0.0) > 0:
            log.info("progress: %s", self.line())
            self._start_heartbeat()

    def end(self, stage: str, status: str) -> None:
        """Record ``stage`` as done (``ran`` / ``skipped``) and stop the heartbeat."""
        self._stop_heartbeat()
        if status == "ran" and self.planned.get(stage, 0.0) >= CALIBRATE_ABOVE_S:
            self._paid += self.planned[stage]
            self._spent += time.perf_counter() - self._stage_start
        elif status != "ran":
            self.planned[stage] = 0.0

    def _start_heartbeat(self) -> None:
        if not self.heartbeat_s:
            return
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(self.heartbeat_s):
                log.info("progress: %s", self.line())

        self._thread = threading.Thread(target=beat, name="job-progress", daemon=True)
        self._thread.start()

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
