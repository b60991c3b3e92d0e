"""Where the main job stands, for the console and ``run.log``: stage ``i/n``, the time
elapsed and an estimate of the time left, from each stage's planned units of work.

Each stage's plan is counted in units (:func:`planned_units`: optimisation steps of the
fits, training steps x batch of reconstruction, sigma x renderer points of the gradient
study, ...) and priced at :data:`UNIT_SECONDS`, the cost measured with the ``cpu`` preset
on two idle cores (docs/running.md, "How long it takes here").  Once stages have run in
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

#: Seconds per planned unit of each stage, from the ``cpu`` preset's end-to-end run on
#: two idle cores (2026-12-05, docs/running.md, 1677 s in all): fitting 160 s for 14,820
#: optimisation steps (13 targets x 6 renderers x 120 steps, the slow reference, and a
#: 2-target tuning sweep of 50-step fits); reconstruction 1446 s for 6 runs x 1500 steps
#: x batch 32 (its 14-point sweep on val and the evaluation folded in); gradients 7.7 s
#: for 63 sigma x renderer points; ablations 10.5 s for 10 fits x 120 steps; timing 25 s
#: for 100,270 million pixel-face pairs over its sweep points (:func:`_timing_work`);
#: data (cached) and examples a few seconds.
UNIT_SECONDS = {"data": 2.0, "fitting": 160.4 / 14_820, "reconstruction": 1446.0 / 288_000,
                "gradients": 7.7 / 63, "ablations": 10.5 / 1200,
                "timing": 25.1 / 100_270, "examples": 5.0}
#: Stages priced under this (seconds) do not enter the measured speed: their wall time is
#: mostly start-up (Taichi's kernel compilation), not their planned work.
CALIBRATE_ABOVE_S = 30.0
#: Seconds between two progress lines while a stage runs (progress bars off).
HEARTBEAT_S = 60.0


def progress_default() -> bool:
    """Progress bars by default only when the console is a terminal."""
    return sys.stderr.isatty()


def planned_units(stage: str, config: dict) -> float:
    """The units of work of ``stage`` with its stage ``config`` (as recorded in
    ``stage.json``; see :data:`UNIT_SECONDS` for what a unit is)."""
    if stage == "fitting":
        fit, bench = config.get("fit") or {}, config.get("fit_bench") or {}
        names = config.get("renderers") or []
        slow = [n for n in names if n in (bench.get("slow_renderers") or ())]
        fast = len(names) - len(slow)
        tuning = (int(bench.get("tuning_targets") or 0) * fast * len(bench.get("lr_scales") or ())
                  * max(1, len(bench.get("sigmas") or ()))
                  * int(bench.get("tuning_steps") or fit.get("steps") or 0))
        return (len(config.get("shapes") or []) * fast * int(fit.get("steps") or 0)
                + len(slow) * int(bench.get("slow_targets") or 0)
                * int(bench.get("slow_steps") or fit.get("steps") or 0) + tuning)
    if stage == "reconstruction":
        recon = config.get("recon") or {}
        return (len(config.get("renderers") or []) * len(config.get("seeds") or [])
                * int(recon.get("iterations") or 0) * int(recon.get("batch_size") or 0))
    if stage == "gradients":
        return len(config.get("renderers") or []) * len(config.get("sigmas") or ())
    if stage == "ablations":
        fit = config.get("fit") or {}
        return (len(config.get("sigmas") or ()) + 5) * int(fit.get("steps") or 0)
    if stage == "timing":
        return _timing_work(config)
    return 1.0


def _timing_work(config: dict) -> float:
    """Pixel-face pairs (millions, ``batch x size^2 x faces``) over the timing study's
    one-factor-at-a-time sweep points, times renderers and calls per point."""
    fb, sb = 20 * 4 ** int(config.get("base_subdivisions", 3)), int(config.get("base_batch", 4))
    hb = int(config.get("base_image_size", 64))
    points = ([sb * hb * hb * 20 * 4 ** int(s) for s in config.get("subdivisions") or ()]
              + [sb * int(h) ** 2 * fb for h in config.get("image_sizes") or ()]
              + [int(b) * hb * hb * fb for b in config.get("batch_sizes") or ()]
              + [sb * hb * hb * fb] * len(config.get("sigmas") or ()))
    calls = int(config.get("warmup", 1)) + int(config.get("repeats", 1))
    return sum(points) / 1e6 * len(config.get("renderers") or []) * calls


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
