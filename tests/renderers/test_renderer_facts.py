"""Facts about renderers live in their descriptions (renderers/options.py): every default
list of renderers is a query over the registry, never a literal list elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import renderers
from renderers import Rasterizer, register
from renderers.base import _REGISTRY
from renderers.options import Option, RendererInfo
from renderers.validation import EPS_RANGE, check_eps

ROOT = Path(__file__).resolve().parents[2]
#: Where renderer lists may be written: the renderers' own package and the tests (the
#: pytest-benchmark suite in ``benchmarks/`` is tests too).
ALLOWED = ("renderers", "tests", "benchmarks")
BUILT_IN = set(renderers.names(absent=True))


def _literal_lists(tree: ast.AST):
    """(line, names) of every tuple/list/set literal, and dict literal's keys, holding
    two or more built-in renderer names as string constants, or made of them only
    (``("softras_torch",)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        found = [e.value for e in items if isinstance(e, ast.Constant)
                 and isinstance(e.value, str) and e.value in BUILT_IN]
        if len(found) >= 2 or (found and len(found) == len(items)):
            yield node.lineno, found


def _sources() -> list[Path]:
    """The project's Python files outside :data:`ALLOWED` (``bench_softras``,
    ``metrics``, ``scripts``, ``noxfile.py``)."""
    return [p for p in sorted(ROOT.rglob("*.py"))
            if p.relative_to(ROOT).parts[0] not in ALLOWED
            and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]


def test_no_hard_coded_renderer_list_outside_renderers():
    sources = _sources()
    assert any(p.parts[-2] == "bench_softras" for p in sources)
    offenders = [f"{path.relative_to(ROOT)}:{line}: {found}" for path in sources
                 for line, found in _literal_lists(ast.parse(path.read_text()))]
    assert not offenders, "renderer lists belong to renderers/ (query renderers.names):\n" + \
        "\n".join(offenders)


def test_the_walker_finds_a_literal_list():
    code = ("DEFAULT = ('softras', 'n3mr')\nCAP = {'softras_torch': 1, 'mitsuba': 2}\n"
            "X = ('a', 'softras')\nDENSE = ('softras_torch',)")
    assert [line for line, _ in _literal_lists(ast.parse(code))] == [1, 2, 4]


def test_names_queries_the_descriptions():
    every = renderers.names(absent=True)
    assert {"softras", "n3mr", "hard", "dibr", "antialias", "edgegrad", "softras_torch",
            "mitsuba", "pytorch3d_soft"} <= set(every)
    fast = renderers.names(slow=False)
    assert set(fast) >= {"softras", "n3mr", "hard", "dibr", "antialias", "edgegrad"}
    assert not set(fast) & {"softras_torch", "mitsuba", "pytorch3d_soft"}
    assert set(renderers.names(slow=True, absent=True)) == {"softras_torch", "mitsuba",
                                                            "pytorch3d_soft"}
    assert renderers.names(cost_class="monte_carlo", absent=True) == ["mitsuba"]
    assert renderers.names(family="exact") == ["hard"]
    orders = [i.order for i in renderers.descriptions(absent=True)]
    assert orders == sorted(orders)
    assert set(renderers.names()) == set(renderers.available())


def test_slow_references_borrow_from_a_swept_renderer():
    for info in renderers.descriptions(absent=True):
        if info.slow:
            assert info.tuned_from in renderers.names(slow=False), info.name


def test_capped_work_follows_the_cost_class():
    assert renderers.describe("softras").capped_work(4, 10, 8) is None
    assert renderers.describe("softras_torch").capped_work(4, 10, 8)[1] == 4 * 10 * 8 * 8


def test_description_checks_its_facts():
    with pytest.raises(ValueError, match="cost_class"):
        RendererInfo("x", "soft", None, (), cost_class="cheap")
    with pytest.raises(ValueError, match="samples"):
        RendererInfo("x", "estimator", None, (), cost_class="monte_carlo")
    with pytest.raises(ValueError, match="itself"):
        RendererInfo("x", "soft", None, (), tuned_from="x")


def test_register_refuses_a_bad_cost_class():
    class Bad(Rasterizer):
        cost_class = "cheap"

    with pytest.raises(ValueError, match="cost_class"):
        register("bad_cost_class_renderer", Bad)
    assert "bad_cost_class_renderer" not in _REGISTRY


def test_a_new_renderer_joins_the_default_lists_by_its_description():
    class Slow(Rasterizer):
        name, family, options, slow, tuned_from, order = "slow_x", "soft", (), True, "softras", 5

    register("slow_x", Slow)
    try:
        assert "slow_x" in renderers.names(slow=True)
        assert "slow_x" not in renderers.names(slow=False)
        assert renderers.names()[0] == "slow_x"  # order 5: first
    finally:
        _REGISTRY.pop("slow_x")


def test_options_are_validated_by_name():
    dibr = renderers.describe("dibr")
    with pytest.raises(ValueError, match="max_faces"):
        renderers.build("dibr", image_size=8, max_faces=0)
    with pytest.raises(ValueError, match="box_margin"):
        renderers.build("dibr", image_size=8, box_margin=-1.0)
    assert dibr.option("max_faces").validate(3) == 3

    class Reordered(Rasterizer):
        options = (Option("b", int, 1, "", low=1), Option("a", float, 0.5, "", low=0.0))

    assert Reordered.check_option("a", 0.25) == 0.25
    with pytest.raises(ValueError, match="^b must"):
        Reordered.check_option("b", 0)


def test_eps_range_stated_once():
    soft = renderers.describe("softras").option("eps")
    assert (soft.low, soft.high) == EPS_RANGE
    for bad in (EPS_RANGE[0], EPS_RANGE[1]):
        with pytest.raises(ValueError):
            check_eps(bad)
        with pytest.raises(ValueError):
            soft.validate(bad)
