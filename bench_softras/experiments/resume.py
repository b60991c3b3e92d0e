"""What a training run leaves on disk and how a resumed run reads it back safely.

A run directory (:mod:`bench_softras.experiments.train`) holds
``checkpoints/step_XXXXXXX.pt`` (written by temp-and-rename, so never half-written by
us, but a disk error, a full disk or a copy can still cut one short) and
``metrics.jsonl`` (one JSON object per logged step, appended, so a kill can leave a
cut-off last line).  Resuming survives both:

* :func:`load_latest_intact` tries the checkpoints newest first; one that does not load
  is moved aside (``*.pt.corrupt``) with a warning naming it, and the previous one is
  used (``keep_checkpoints >= 2`` keeps one to fall back to);
* every checkpoint is read weights only (:func:`load_checkpoint`: ``torch.load(...,
  weights_only=True)``): tensors and plain containers of numbers and strings, which is
  all a training checkpoint holds.  A file that holds anything else (a pickle that
  would run code when loaded, e.g. one planted in a shared results directory) is
  refused unread, like a damaged one, and runs nothing;
* :func:`read_metrics` skips lines that are not JSON objects, with a warning naming the
  file and the line;
* a checkpoint records the fingerprint of the data it was trained on
  (:data:`DATA_FINGERPRINT_KEY`, by content, not path): a run resumes on the same data
  wherever it lives, and a run whose data changed is set aside (:func:`set_aside`) and
  trained afresh;
* while a run trains, the newest ``keep_checkpoints`` stay (:func:`prune_checkpoints`);
  once it has finished, only the final one (what evaluation, the examples and a resume
  read: the latest) stays: :func:`prune_finished` reads it back weights only first, and
  deletes nothing but regular files of the run's own ``checkpoints/`` named as
  checkpoints (no symlink is followed or removed).  A run stopped before its last step
  keeps its ``keep_checkpoints`` to resume from.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import warnings
from pathlib import Path

import torch

from bench_softras.atomic import write_text
from bench_softras.errors import UserError
from bench_softras.jsonl import read_records
from bench_softras.runlock import LOCK_NAME
from bench_softras.safe_paths import UnsafePathError, contained

log = logging.getLogger(__name__)

#: Keys every training checkpoint holds (``train._save_checkpoint``).
CHECKPOINT_KEYS = frozenset({"model", "optimizer", "step", "numpy_rng", "torch_rng", "config"})
#: Suffix a checkpoint that does not load is renamed to (kept for inspection).
CORRUPT_SUFFIX = ".corrupt"
#: Checkpoint key of the training data's content fingerprint
#: (:meth:`bench_softras.data.MultiViewData.fingerprint`); absent in older checkpoints.
DATA_FINGERPRINT_KEY = "data_fingerprint"
#: Subdirectory of a run directory holding runs set aside (:func:`set_aside`).
SUPERSEDED_DIR = "superseded"
#: Subdirectory of a reconstruction unit (a run directory) whose lock guards the unit's
#: evaluation and tables (:mod:`.evaluate`; :func:`.train.train` holds
#: ``<run dir>/.lock`` itself while it trains).
UNIT_LOCK_DIR = "unit"
#: Entries of a run directory :func:`set_aside` leaves in place (locks, earlier runs).
KEEP_IN_PLACE = frozenset({LOCK_NAME, UNIT_LOCK_DIR, SUPERSEDED_DIR})


#: A checkpoint's file name in ``checkpoints/`` (:func:`checkpoint_path`).
CHECKPOINT_NAME = re.compile(r"step_(\d{7,})\.pt")


def checkpoint_dir(run_dir: str | Path) -> Path:
    """``run_dir / "checkpoints"``."""
    return Path(run_dir) / "checkpoints"


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    """Where the checkpoint of ``step`` lives: ``checkpoints/step_XXXXXXX.pt``."""
    return checkpoint_dir(run_dir) / f"step_{int(step):07d}.pt"


def checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's checkpoint files (named as :data:`CHECKPOINT_NAME`; other
    ``step_*.pt`` names are not ours), oldest (lowest step) first."""
    found = [(int(m[1]), p) for p in checkpoint_dir(run_dir).glob("step_*.pt")
             if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``run_dir``, or ``None``."""
    found = checkpoints(run_dir)
    return found[-1] if found else None


class CheckpointError(UserError, ValueError):
    """A checkpoint file that cannot be used: unreadable, cut short, not a checkpoint of
    this suite, or holding objects a weights-only load refuses; the message (one line)
    names the file."""


def _why_unreadable(exc: BaseException) -> str:
    """One line saying why ``torch.load(..., weights_only=True)`` refused a file."""
    text = str(exc)
    found = re.search(r"unsupported GLOBAL (\S+)", text)
    if found:
        return (f"it holds a Python object ({found[1]}) beyond tensors and plain data; "
                "refused unread, since loading it could run code")
    if "Weights only load failed" in text:
        detail = re.search(r"WeightsUnpickler error: \s*(.+)", text)
        return ("not a weights-only checkpoint" + (f" ({detail[1].strip()})" if detail else "")
                + "; refused unread, since loading it could run code")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"not a readable checkpoint ({type(exc).__name__}: {first})"


def load_checkpoint(path: str | Path, device="cpu",
                    keys: frozenset[str] = CHECKPOINT_KEYS) -> dict:
    """The state dict saved at ``path``, read weights only (tensors and plain
    containers; nothing in the file can run code).  Raises :class:`CheckpointError` (a
    ``ValueError``; one line naming the file) when it cannot be read, holds other
    objects, or lacks any of ``keys`` (default: a training checkpoint's)."""
    try:
        with warnings.catch_warnings():  # e.g. torch's note on a file's pickle protocol
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise CheckpointError(f"{path}: {_why_unreadable(exc)}") from exc
    missing = keys - set(state) if isinstance(state, dict) else keys
    if missing:
        raise CheckpointError(f"{path}: not a checkpoint this suite can use (missing "
                              f"{sorted(missing)}); give a file the suite wrote, e.g. "
                              "checkpoints/step_*.pt of softras-bench train")
    return state


def load_latest_intact(run_dir: str | Path, device="cpu", move_aside: bool = True
                       ) -> tuple[Path | None, dict | None]:
    """``(path, state)`` of the newest checkpoint that loads, or ``(None, None)`` when
    there is none.  Each newer one that does not load is skipped with a warning and
    (``move_aside``; one process of a data-parallel run) renamed to
    ``<name>.corrupt``."""
    for path in reversed(checkpoints(run_dir)):
        try:
            return path, load_checkpoint(path, device)
        except ValueError as exc:
            aside = path.with_name(path.name + CORRUPT_SUFFIX)
            if move_aside:
                path.replace(aside)
            log.warning("resume: skipped damaged checkpoint (%s); moved it to %s (delete "
                        "it when done) and fall back to the previous one", exc, aside.name)
    return None, None


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` (>= 1) checkpoints; returns the deleted paths."""
    old = checkpoints(run_dir)[:-max(1, int(keep))]
    for p in old:
        p.unlink(missing_ok=True)
    return old


def _checkpoint_files(folder: Path, but: str = "") -> list[Path]:
    """The regular files of ``folder`` named as checkpoints (:data:`CHECKPOINT_NAME`),
    sorted, except the one named ``but``; symlinks and anything else are left out."""
    with os.scandir(folder) as entries:
        return sorted(folder / e.name for e in entries
                      if CHECKPOINT_NAME.fullmatch(e.name) and e.name != but
                      and e.is_file(follow_symlinks=False))


def drop_checkpoints(root: str | Path, run_dir: str | Path) -> list[Path]:
    """Delete every checkpoint of ``run_dir`` (a run whose result is recorded elsewhere,
    e.g. a point of the reconstruction sweep); returns the deleted paths.  Nothing is
    deleted when ``checkpoints/`` leads outside ``root`` (a warning says why); only
    regular files named as checkpoints (:data:`CHECKPOINT_NAME`) go, symlinks and
    anything else stay."""
    try:
        rel = Path(run_dir).relative_to(root)
        folder = contained(root, rel / checkpoint_dir(run_dir).name)
    except (ValueError, UnsafePathError) as exc:
        log.warning("kept the checkpoints of %s: %s", run_dir, exc)
        return []
    if not folder.is_dir():
        return []
    old = _checkpoint_files(folder)
    for path in old:
        path.unlink(missing_ok=True)
    return old


def prune_finished(run_dir: str | Path, final: str | Path, step: int) -> list[Path]:
    """After a run has finished at ``step``: delete its other checkpoints, keeping
    ``final`` (its ``checkpoints/step_XXXXXXX.pt`` of ``step``); returns the deleted
    paths.  First ``final`` is read back weights only (:func:`load_checkpoint`) and must
    hold ``step``; if it does not, or ``checkpoints/`` leads outside ``run_dir``
    (:func:`~bench_softras.safe_paths.contained`), nothing is deleted (a warning says
    why).  Only regular files named as checkpoints (:data:`CHECKPOINT_NAME`) are
    deleted; symlinks, ``*.corrupt`` files and anything else stay."""
    final = Path(final)
    try:
        folder = contained(run_dir, checkpoint_dir(run_dir).name)
    except UnsafePathError as exc:
        log.warning("kept the intermediate checkpoints: %s", exc)
        return []
    if final.name != checkpoint_path(run_dir, step).name or final.is_symlink():
        log.warning("kept the intermediate checkpoints: %s is not the run's final "
                    "checkpoint file", final)
        return []
    old = _checkpoint_files(folder, but=final.name)
    if not old:
        return []
    try:
        saved = int(load_checkpoint(folder / final.name)["step"])
    except (CheckpointError, OSError) as exc:
        log.warning("kept the intermediate checkpoints: the final one did not read back "
                    "(%s)", exc)
        return []
    if saved != int(step):
        log.warning("kept the intermediate checkpoints: %s holds step %d, not the final "
                    "step %d", final, saved, step)
        return []
    for p in old:
        p.unlink(missing_ok=True)
    log.info("run finished: kept %s, deleted %d intermediate checkpoint(s)", final.name,
             len(old))
    return old


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` (empty when absent); lines that are not JSON
    objects (e.g. cut off by a kill) are skipped with a warning
    (:func:`bench_softras.jsonl.read_records`)."""
    return read_records(path)


def drop_metrics_after(path: str | Path, step: int) -> None:
    """Rewrite ``metrics.jsonl`` (atomically) keeping only intact records of steps
    ``<= step``: steps logged after the checkpoint a run resumes from are redone, and a
    cut-off line is dropped."""
    path = Path(path)
    if not path.exists():
        return
    text = path.read_text(errors="replace")
    keep = [r for r in read_metrics(path) if int(r.get("step", 0)) <= step]
    new = "".join(json.dumps(r) + "\n" for r in keep)
    if new != text:
        write_text(path, new)


class WallClock:
    """Says when ``minutes`` of wall time have passed since the last :meth:`reset`
    (``minutes <= 0``: never).  Uses ``time.monotonic``."""

    def __init__(self, minutes: float) -> None:
        self.seconds = float(minutes) * 60.0
        self.reset()

    def reset(self) -> None:
        self.start = time.monotonic()

    def due(self) -> bool:
        return self.seconds > 0 and time.monotonic() - self.start >= self.seconds


def set_aside(run_dir: str | Path, why: str) -> Path:
    """Move everything a run left in ``run_dir`` (checkpoints, logs, curves, saved
    evaluations, unit tables; not :data:`KEEP_IN_PLACE`) to
    ``run_dir/superseded/<time>/`` and log a warning naming ``why`` and where it went;
    returns that directory.  For a run whose inputs changed: its work is kept, never
    resumed."""
    run_dir = Path(run_dir)
    dest = run_dir / SUPERSEDED_DIR / time.strftime("%Y%m%dT%H%M%S")
    k = 1
    while dest.exists():
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{k}")
        k += 1
    dest.mkdir(parents=True)
    for entry in sorted(run_dir.iterdir()):
        if entry.name not in KEEP_IN_PLACE:
            entry.replace(dest / entry.name)
    log.warning("resume: %s; the earlier run moved to %s, training from step 0", why, dest)
    return dest
