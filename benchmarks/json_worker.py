"""A benchmark worker process spoken to in JSON lines (:mod:`side_by_side`'s
:mod:`side_worker` processes, :mod:`scaling`'s per-thread-count servers).

The worker writes one JSON object per line to its standard output: first a ready line,
then one reply per request line read from its standard input; ``{"error": ...}`` on a
failure.  Its standard error goes to a log file, whose last lines name a failure.
"""

from __future__ import annotations

import json
import select
import subprocess
from pathlib import Path

from background import stop


class JsonWorker:
    """The process ``cmd`` (environment ``env``, standard error to ``log``), started in
    its own session so that :meth:`close` can kill it and its children."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, name: str) -> None:
        self.name, self.log = name, log
        self._err = open(log, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True,
                                     start_new_session=True)

    def reply(self, timeout: float) -> dict:
        """The next JSON line, within ``timeout`` seconds; ``RuntimeError`` naming the
        worker, why (its error, no answer, or its exit status) and its log's last lines."""
        ready = select.select([self.proc.stdout], [], [], timeout)[0]
        line = self.proc.stdout.readline() if ready else ""
        msg = json.loads(line) if line.startswith("{") else {}
        if "error" in msg or not msg:
            self._err.flush()
            tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
            why = msg.get("error") or (f"no answer within {timeout:g} s" if not ready else
                                       f"exited ({self.proc.poll()})")
            raise RuntimeError(f"worker for {self.name}: {why}; {' | '.join(tail)}")
        return msg

    def ask(self, request: str, timeout: float) -> dict:
        """Send one request line and return the reply (:meth:`reply`)."""
        self.proc.stdin.write(f"{request}\n")
        self.proc.stdin.flush()
        return self.reply(timeout)

    def close(self) -> None:
        """Stop the process (it is killed) and close its log."""
        stop([self.proc])
        self.proc.stdin.close()
        self._err.close()
