"""The floors of ``bench_softras`` (docs/architecture.md, "Floors"): every import of every
module (at the top or inside a function) goes to its own floor or one below, and no two
modules import each other, directly or round a loop.

Floors, top to bottom (a module imports its own floor and the ones below it):

5. entry: ``bench_softras.cli``, ``bench_softras.__main__``, ``bench_softras.commands``
   (parse command lines, resolve the preset and ``--set``, find the data set);
4. harness: ``bench_softras.main_job``, ``bench_softras.stages`` (the main job, its plan
   and one module per stage);
3. stages: ``bench_softras.experiments``, ``bench_softras.studies``, ``bench_softras.report``
   (take resolved settings objects, write results; the report reads them);
2. settings: ``bench_softras.settings`` (every stage's config and the presets);
1. data: ``bench_softras.data`` (the data set's layout, files, synthetic build);
0. base: ``bench_softras`` itself, ``atomic``, ``errors``, ``jsonl``, ``runs``,
   ``runlock``, ``shards``, ``sweep``, ``environment``, ``results_schema`` (files, user
   errors, locks, run layout, the sweep runner, every stage's result file names).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import bench_softras

ROOT = Path(bench_softras.__file__).parent
PACKAGE = "bench_softras"
#: Floor number -> module prefixes on it (a prefix covers its submodules).
FLOORS: dict[int, tuple[str, ...]] = {
    5: ("bench_softras.cli", "bench_softras.__main__", "bench_softras.commands"),
    4: ("bench_softras.main_job", "bench_softras.stages"),
    3: ("bench_softras.experiments", "bench_softras.studies", "bench_softras.report"),
    2: ("bench_softras.settings",),
    1: ("bench_softras.data",),
    0: ("bench_softras", "bench_softras.atomic", "bench_softras.errors", "bench_softras.jsonl",
        "bench_softras.runs", "bench_softras.runlock", "bench_softras.shards",
        "bench_softras.environment", "bench_softras.results_schema",
        "bench_softras.sweep"),
}


def package_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Module name -> file of every module of ``package`` (a package by its name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every dotted name ``module``'s source imports (``from x import y`` also as
    ``x.y``; relative imports resolved; ``import_module("literal")`` calls)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            names.add(node.args[0].value)
    return names


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (a name resolves to the longest
    module it starts with; the package's own ``__init__`` is left out as a target when
    a longer module matches)."""
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in _imported_names(ast.parse(path.read_text()), module,
                                    path.name == "__init__.py"):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and name != PACKAGE:
                targets.add(name)
        graph[module] = targets
    return graph


def floor_of(module: str, floors: Mapping[int, tuple[str, ...]] = FLOORS) -> int | None:
    """The floor of ``module`` (its longest matching prefix), ``None`` if none."""
    best: tuple[int, int] | None = None
    for floor, prefixes in floors.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (floor, len(p))
    return None if best is None else best[0]


def floor_violations(graph: Mapping[str, set[str]]) -> list[str]:
    """``"a (floor i) -> b (floor j)"`` for every import from a lower floor to a higher."""
    return sorted(f"{a} (floor {floor_of(a)}) -> {b} (floor {floor_of(b)})"
                  for a, targets in graph.items() for b in targets
                  if floor_of(b) > floor_of(a))


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_checkers_find_cycles_and_upward_imports():
    graph = {"bench_softras.settings": {"bench_softras.experiments.multiview"},
             "bench_softras.experiments.multiview": {"bench_softras.settings"},
             "bench_softras.data.layout": {"bench_softras.errors"}}
    assert cycles(graph) == [["bench_softras.experiments.multiview", "bench_softras.settings"]]
    assert floor_violations(graph) == [
        "bench_softras.settings (floor 2) -> bench_softras.experiments.multiview (floor 3)"]
    assert floor_of("bench_softras.commands.fit") == 5 and floor_of("bench_softras.atomic") == 0
    assert floor_of("bench_softras.data.layout") == 1 and floor_of("elsewhere") is None


def test_the_graph_sees_every_form_of_import(tmp_path):
    pkg = tmp_path / "bench_softras"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")  # inside a function
    (pkg / "sub" / "b.py").write_text("import importlib\nimportlib.import_module("
                                      "'bench_softras.c')\n")
    (pkg / "c.py").write_text("from bench_softras import a\n")
    graph = import_graph(package_modules(pkg))
    assert graph["bench_softras.a"] == {"bench_softras.sub.b", "bench_softras.sub"}
    assert graph["bench_softras.sub.b"] == {"bench_softras.c"}
    assert cycles(graph) == [["bench_softras.a", "bench_softras.c", "bench_softras.sub.b"]]


def test_every_module_has_a_floor():
    assert [m for m in package_modules() if floor_of(m) is None] == []


def test_no_import_cycles():
    assert cycles(import_graph(package_modules())) == []


def test_imports_never_go_up_a_floor():
    assert floor_violations(import_graph(package_modules())) == []


def test_experiments_leave_plans_locks_and_records_to_the_sweep_runner():
    # an experiment lists units and computes; planning, locking, unit records and merges
    # are the harness's sweep runner's (bench_softras.sweep), so no experiment imports
    # the results store of the shards
    graph = import_graph(package_modules())
    assert graph["bench_softras.experiments.fit_bench"] >= {"bench_softras.sweep"}
    assert {m for m, deps in graph.items() if m.startswith("bench_softras.experiments")
            and "bench_softras.shards" in deps} == set()


def _imports_argparse(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.Import) and any(a.name == "argparse" for a in n.names)
               or isinstance(n, ast.ImportFrom) and n.module == "argparse"
               for n in ast.walk(tree))


def test_only_the_entry_floor_parses_command_lines(tmp_path):
    # the command modules (bench_softras.commands) and the dispatcher own every option;
    # no library module carries an argparse parser or argparse types of its own
    bad = tmp_path / "lib.py"
    bad.write_text("def f():\n    from argparse import ArgumentParser\n")
    assert _imports_argparse(bad)
    parsing = {m for m, p in package_modules().items() if _imports_argparse(p)}
    assert parsing and {m for m in parsing if floor_of(m) != 5} == set()
