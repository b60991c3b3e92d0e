"""User mistakes versus bugs.

Every mistake a user can make (a bad option value, a missing or malformed data file, a
run directory in use, a directory that cannot be written) raises a :class:`UserError`
(or one of the file-system errors in :func:`is_user_error`) whose message is one line
naming the problem and the fix.  The command line prints that line and exits with
status 2; anything else is a bug and keeps its traceback.  ``--debug`` (or
``SOFTRAS_BENCH_DEBUG=1``) shows the traceback of user errors too.

The checks of option values used by several commands live here: :func:`check_device`
and :func:`check_writable_dir` (their argparse ``type=`` wrappers are in
:mod:`bench_softras.commands.options`).
"""

from __future__ import annotations

import errno
import re
import tempfile
from pathlib import Path

#: Environment variable that makes the CLI show tracebacks of user errors.
DEBUG_ENV = "SOFTRAS_BENCH_DEBUG"


class UserError(Exception):
    """A mistake in what the user asked for or gave; the message says what to change."""


class ConfigError(UserError, ValueError):
    """An invalid setting (e.g. a negative iteration count)."""


class UnknownNameError(UserError, KeyError):
    """An unknown preset, renderer or category name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


#: ``errno`` values of file-system errors that are the user's environment, not a bug.
USER_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                         errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST})


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a user mistake (:class:`UserError`, an exception class marked
    ``user_error = True`` such as :class:`renderers.contract.RendererContractError`, or
    a file-system error such as a read-only directory or a full disk) rather than a bug."""
    if isinstance(exc, UserError) or getattr(type(exc), "user_error", False) is True:
        return True  # the latter: errors of packages that cannot import this module
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)) and exc.errno is None:
        return True  # raised by this suite with a message, e.g. "results directory ..."
    return isinstance(exc, OSError) and exc.errno in USER_ERRNOS


def user_message(exc: BaseException) -> str:
    """The one-line message shown for a user error."""
    if isinstance(exc, OSError) and not isinstance(exc, UserError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        fix = {errno.ENOSPC: "free some space or write elsewhere",
               errno.EDQUOT: "free some space or write elsewhere",
               errno.ENOENT: "check the path"}.get(exc.errno, "choose a path you can write "
                                                           "(e.g. --results-root, --out-dir)")
        text = f"{where}{exc.strerror.lower()}; {fix}"
    else:
        text = str(exc)
    return " ".join(text.split())  # one line


_DEVICE_RE = re.compile(r"^(cpu|cuda)(:(\d+))?$")


def check_device(device: str) -> str:
    """``device`` if this machine can run on it (``cpu``, ``cuda``, ``cuda:N``), else
    :class:`UserError` naming the problem (not a torch device, no CUDA GPU, no GPU N)."""
    m = _DEVICE_RE.match(str(device))
    if not m or (m[1] == "cpu" and m[2]):
        raise UserError(f"device {device!r} is not one this suite runs on; use cpu, cuda or "
                        "cuda:N (GPU number N)")
    if m[1] == "cuda":
        # Here: the CLI imports this module before the OpenMP env is set (torch must
        # load after it), and the report imports it without torch.
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"device {device!r} asked for but torch {torch.__version__} sees no "
                            "CUDA GPU (no GPU, no driver, or a CPU-only torch); use --device cpu")
        if m[3] is not None and int(m[3]) >= torch.cuda.device_count():
            raise UserError(f"device {device!r}: there are only {torch.cuda.device_count()} "
                            f"CUDA GPU(s), numbered from 0")
    return device


def check_writable_dir(path: str | Path, option: str) -> Path:
    """Raise :class:`UserError` unless ``path`` is (or can be created as) a directory
    this process can write; tries a temporary file in its nearest existing ancestor
    and creates nothing that stays."""
    p = Path(path).expanduser().absolute()
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{option} {str(path)!r}: {probe} is a file, not a directory; give "
                        "a directory path")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise UserError(f"{option} {str(path)!r}: cannot write in {probe} "
                        f"({exc.strerror}); give a writable directory") from None
    return p
