"""Crash-isolating driver of the long fuzz profile (``nox -s fuzz``).

Runs ``pytest tests/fuzz`` under the hypothesis profile ``long`` once per renderer, each
in its own child process, so a segfault, abort or hang in one renderer is reported
(renderer, hypothesis seed, the example that was running) instead of killing the run.
Prints the number of examples per renderer and every failure with the command that
replays it.  Then the command-line fuzz (``tests/fuzz/test_fuzz_cli.py``: random option
values, run ids and damaged results directories; exit status 0 or 2, no traceback,
nothing written outside the temporary roots) runs once, in its own child process, under
the same profile.  Exit status 0 when every part passed, 1 otherwise.

    python tests/fuzz/run_fuzz.py [--renderers a,b] [--seed N] [--examples 1000] [--no-cli]
    python tests/fuzz/run_fuzz.py --replay '<the JSON of "example running when it died">'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The command-line fuzz (run once, not per renderer).
CLI_FUZZ = "tests/fuzz/test_fuzz_cli.py"
_COUNTS = re.compile(r"(\d+) passing(?: examples)?, (\d+) failing")


def _renderers() -> list[str]:
    out = subprocess.run([sys.executable, "-c", "import renderers; print(','.join("
                          "renderers.available()))"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().splitlines()[-1].split(",")


def _describe_exit(rc: int) -> str:
    if rc < 0:
        return f"killed by signal {signal.Signals(-rc).name}"
    return {0: "passed", 1: "property failures"}.get(rc, f"pytest exit status {rc}")


def run_one(name: str, seed: int, examples: int, timeout: float) -> dict:
    """One renderer's long profile in a child process; returns its summary."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "last_case.json"
        env = {**os.environ, "HYPOTHESIS_PROFILE": "long", "FUZZ_RENDERER": name,
               "FUZZ_EXAMPLES": str(examples), "FUZZ_TRACE": str(trace)}
        target = [CLI_FUZZ] if name == "cli" else ["tests/fuzz", f"--ignore={CLI_FUZZ}"]
        cmd = [sys.executable, "-m", "pytest", *target, "-q", "-p", "no:cacheprovider",
               "--benchmark-disable", "--hypothesis-show-statistics",
               f"--hypothesis-seed={seed}"]
        replay = (f"HYPOTHESIS_PROFILE=long FUZZ_RENDERER={name} FUZZ_EXAMPLES={examples} "
                  "python " + " ".join(cmd[1:]))
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            rc, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as err:
            rc, output = None, (err.stdout or b"").decode(errors="replace")
        last = trace.read_text() if trace.exists() else ""
    counts = [tuple(map(int, m)) for m in _COUNTS.findall(output)]
    return {
        "renderer": name, "seed": seed, "returncode": rc,
        "status": "hang (timeout)" if rc is None else _describe_exit(rc),
        "passing": sum(p for p, _ in counts), "failing": sum(f for _, f in counts),
        "last_case": json.loads(last) if last and rc not in (0, 1) else None,
        "replay": replay, "tail": "\n".join(output.splitlines()[-40:]) if rc != 0 else "",
    }


def replay(case_json: str) -> None:
    """Run one recorded example in this process (to debug a crash under gdb etc.)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuzz_cases import Case
    from test_fuzz_renderers import check_dtype, check_render

    case = json.loads(case_json)
    test, name = case.pop("test"), case.pop("renderer")
    if test == "render":
        check_render(name, Case(**case))
    else:
        check_dtype(name, case)
    print(f"{test} example on {name}: passed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renderers", help="comma-separated names (default: all registered)")
    ap.add_argument("--seed", type=int, default=20240613, help="hypothesis seed")
    ap.add_argument("--examples", type=int, default=1000, help="examples per property")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per renderer")
    ap.add_argument("--replay", metavar="JSON", help="run one recorded example and exit")
    ap.add_argument("--no-cli", dest="cli", action="store_false",
                    help="leave out the command-line fuzz")
    args = ap.parse_args(argv)
    if args.replay:
        replay(args.replay)
        return 0
    names = args.renderers.split(",") if args.renderers else _renderers()
    names += ["cli"] if args.cli else []  # the command-line fuzz, once
    ok = True
    for name in names:
        res = run_one(name, args.seed, args.examples, args.timeout)
        ok &= res["returncode"] == 0
        print(f"{name}: {res['status']}; {res['passing']} passing and {res['failing']} "
              f"failing examples (seed {res['seed']})", flush=True)
        if res["returncode"] != 0:
            if res["last_case"] is not None:
                print(f"  example running when it died: {json.dumps(res['last_case'])}")
            print(f"  replay: {res['replay']}\n{res['tail']}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
