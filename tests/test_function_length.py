"""The project's style rule: no function (or method) longer than 80 lines, anywhere in
the code or its tests."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench_softras", "metrics", "renderers", "tests", "benchmarks", "scripts")
MAX_LINES = 80


def long_functions(path: Path, root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    """``"file:line name (n lines)"`` (file relative to ``root``) of every function in
    ``path`` longer than ``limit`` lines (decorators not counted, docstring counted)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.relative_to(root)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > limit]


def test_the_check_finds_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n")
    assert long_functions(tmp_path / "m.py", tmp_path) == [f"m.py:5 long ({MAX_LINES + 1} lines)"]


def test_no_function_is_longer_than_80_lines():
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert files
    found = [hit for p in files for hit in long_functions(p)]
    assert not found, "split these functions (at most 80 lines each):\n" + "\n".join(found)
