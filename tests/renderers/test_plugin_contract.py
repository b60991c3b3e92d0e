"""Plugins are checked: a name already taken is refused naming both renderers, and each
instance's first output is checked against the interface contract (shape [B, H, W],
the input's dtype and device, finite, in [0, 1]); a missing or crashing plugin module
named in SOFTRAS_BENCH_PLUGINS is one line naming it, exit status 2."""

from __future__ import annotations

import pytest
import torch

import renderers
from bench_softras import cli
from bench_softras.errors import is_user_error
from renderers.base import _REGISTRY
from renderers.contract import RendererContractError


def random_faces(batch: int, faces: int, dtype=torch.float64) -> torch.Tensor:
    """Random screen-space triangles ``[B, F, 3, 3]`` (x, y in [-0.8, 0.8], depth 1..2)."""
    g = torch.Generator().manual_seed(0)
    fv = (torch.rand(batch, faces, 3, 3, generator=g, dtype=torch.float64) * 2 - 1) * 0.8
    fv[..., 2] = 1.0 + torch.rand(batch, faces, 3, generator=g, dtype=torch.float64)
    return fv.to(dtype)


def _plugin(output):
    """A Rasterizer subclass whose rasterize returns ``output(self, face_vertices)``."""

    class Plugin(renderers.Rasterizer):
        calls = 0

        def rasterize(self, face_vertices):
            type(self).calls += 1
            return output(self, face_vertices)

    return Plugin


def _zeros(self, fv):
    return fv.new_zeros(fv.shape[0], self.height, self.width)


@pytest.fixture
def registered():
    """Register plugins under test names; removes them afterwards."""
    names = []

    def reg(name, cls):
        renderers.register(name, cls)
        names.append(name)
        return cls

    yield reg
    for n in names:
        _REGISTRY.pop(n, None)


def test_a_builtin_name_is_not_replaced(registered):
    before = _REGISTRY["softras"]
    with pytest.raises(ValueError, match=r"'softras' is already registered by "
                                         r"renderers\.softras\..*Plugin may not replace it"):
        renderers.register("softras", _plugin(_zeros))
    assert _REGISTRY["softras"] is before
    registered("_contract_ok", _plugin(_zeros))  # a free name is fine, and so is the
    renderers.register("_contract_ok", _REGISTRY["_contract_ok"])  # same class again


BAD_OUTPUTS = {
    "nan": (lambda self, fv: torch.full((fv.shape[0], self.height, self.width), float("nan"),
                                        dtype=fv.dtype), "1 NaN/Inf|NaN/Inf values"),
    "above_one": (lambda self, fv: _zeros(self, fv) + 2.0, r"outside \[0, 1\]"),
    "negative": (lambda self, fv: _zeros(self, fv) - 0.5, r"outside \[0, 1\]"),
    "shape": (lambda self, fv: fv.new_zeros(fv.shape[0], self.height + 1, self.width),
              r"shape \[2, 9, 8\], expected \[B, H, W\] = \[2, 8, 8\]"),
    "batch": (lambda self, fv: fv.new_zeros(1, self.height, self.width), "expected"),
    "four_dims": (lambda self, fv: fv.new_zeros(fv.shape[0], 1, self.height, self.width),
                  "expected"),
    "dtype": (lambda self, fv: _zeros(self, fv).float(), "dtype torch.float32 for "
                                                         "torch.float64 input"),
    "bool": (lambda self, fv: _zeros(self, fv).bool(), "dtype torch.bool"),
    "not_tensor": (lambda self, fv: [[0.0]], "not a torch.Tensor"),
}


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_first_output_breaking_the_contract_is_refused_naming_the_renderer(case, registered):
    output, match = BAD_OUTPUTS[case]
    registered("_contract_bad", _plugin(output))
    r = renderers.build("_contract_bad", image_size=8)
    with pytest.raises(RendererContractError, match=match) as info:
        r.rasterize(random_faces(2, 3))
    assert "'_contract_bad'" in str(info.value) and "Plugin" in str(info.value)
    assert is_user_error(info.value)  # one line, exit 2 on the command line
    with pytest.raises(RendererContractError):  # render() goes through the same check
        renderers.build("_contract_bad", image_size=8).render(
            torch.rand(2, 4, 3, dtype=torch.float64) * 0.2, torch.tensor([[0, 1, 2]]),
            renderers.Camera(azimuth=torch.tensor([0.0, 30.0])))


def test_check_runs_on_the_first_call_of_each_instance_only(registered):
    state = {"bad": False}

    def output(self, fv):
        out = _zeros(self, fv)
        return out + float("nan") if state["bad"] else out

    registered("_contract_once", _plugin(output))
    r = renderers.build("_contract_once", image_size=8)
    r.rasterize(random_faces(1, 2))  # checked, fine
    state["bad"] = True
    assert torch.isnan(r.rasterize(random_faces(1, 2))).all()  # not checked again (cheap)
    with pytest.raises(RendererContractError, match="NaN"):  # a new instance is
        renderers.build("_contract_once", image_size=8).rasterize(random_faces(1, 2))


def test_a_class_put_in_the_registry_directly_is_checked_when_built(monkeypatch):
    monkeypatch.setitem(_REGISTRY, "_contract_direct", _plugin(lambda s, fv: _zeros(s, fv) + 3))
    with pytest.raises(RendererContractError, match="'_contract_direct'"):
        renderers.build("_contract_direct", image_size=4).rasterize(random_faces(1, 1))


@pytest.mark.parametrize("name", sorted(renderers.available()))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_registered_renderer_meets_the_contract(name, dtype):
    r = renderers.build(name, image_size=12)
    out = r.rasterize(random_faces(2, 5, dtype=dtype))  # raises if it broke the contract
    assert out.shape == (2, 12, 12) and out.dtype == dtype


PLUGIN_NAN = '''
import renderers


@renderers.register("_plugin_nan_cli")
class NanPlugin(renderers.Rasterizer):
    def rasterize(self, face_vertices):
        b = face_vertices.shape[0]
        return face_vertices.new_full((b, self.height, self.width), float("nan"))
'''


@pytest.mark.parametrize("body, match", [
    (None, "'_no_such_plugin_mod_q' not found on the Python path"),
    ("raise RuntimeError('boom in plugin')", "'_crashing_plugin_mod_q' failed while importing: "
                                             "RuntimeError: boom in plugin"),
    ("import _a_dependency_that_is_missing_q", "failed while importing: ModuleNotFoundError"),
    ("import renderers\nrenderers.register('hard', type('H', (renderers.Rasterizer,), "
     "{'rasterize': lambda s, f: f}))", "'hard' is already registered by renderers.hard"),
])
def test_missing_or_crashing_plugin_module_is_one_line_exit_2(body, match, tmp_path,
                                                                monkeypatch, capsys):
    mod = "_no_such_plugin_mod_q" if body is None else "_crashing_plugin_mod_q"
    if body is not None:
        (tmp_path / f"{mod}.py").write_text(body)
        monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(cli.PLUGINS_ENV, mod)
    monkeypatch.delitem(__import__("sys").modules, mod, raising=False)
    assert cli.main(["renderers"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "SOFTRAS_BENCH_PLUGINS" in err and match.replace("\\", "") in err, err


def test_nan_plugin_stops_the_gradient_study_naming_it(tmp_path, monkeypatch, capsys):
    """Before: the study scored the NaN silhouette IoU 1.0 and exited 0."""
    (tmp_path / "_nan_plugin_mod_q.py").write_text(PLUGIN_NAN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(cli.PLUGINS_ENV, "_nan_plugin_mod_q")
    try:
        code = cli.main(["gradients", "--out", str(tmp_path / "out"), "--renderers",
                         "_plugin_nan_cli", "--scenes", "triangle", "--no-progress"])
    finally:
        _REGISTRY.pop("_plugin_nan_cli", None)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'_plugin_nan_cli'" in err and "NaN/Inf" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "gradient_accuracy.csv").exists()


@pytest.mark.parametrize("name, package", [("mitsuba", "mitsuba"),
                                           ("pytorch3d_soft", "pytorch3d")])
def test_absent_peer_says_not_installed_and_how(name, package, monkeypatch, capsys):
    """Before: 'unknown renderer'."""
    monkeypatch.delitem(_REGISTRY, name, raising=False)
    monkeypatch.setattr("renderers.peers._missing", lambda p: f"{p} is not installed")
    with pytest.raises(KeyError, match=f"{name!r} is an optional peer that is not "
                                       f"installed here \\({package} is not installed\\); "
                                       "install it: "):
        renderers.build(name)
    code = cli.main(["report", "--renderers", name, "--results-root", "/nonexistent/r",
                     "--reports-root", "/nonexistent/p"])
    err = capsys.readouterr().err
    assert code == 2 and "not installed" in err and "unknown renderer" not in err, err
    assert ("pip install -e .[peers]" if name == "mitsuba" else "source checkout") in err


class _NanBackward(torch.autograd.Function):
    """Identity forward whose backward is NaN."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


def test_nan_gradient_with_a_finite_silhouette_stops_the_study(registered):
    """The forward meets the contract but the gradient is NaN: before, compare_gradients
    scored it cosine 0.0 (a 'zero gradient'); now the study stops naming it."""
    from bench_softras.studies.gradients import run_gradient_study

    def output(self, fv):
        cover = _NanBackward.apply(fv[..., 0]).mean() * 0.0 + 0.5
        return cover * fv.new_ones(fv.shape[0], self.height, self.width)

    registered("_contract_nan_grad", _plugin(output))
    with pytest.raises(RendererContractError, match=r"'_contract_nan_grad' gave a gradient "
                                                    r"with \d+ NaN/Inf values \(scene "
                                                    r"triangle, loss weighted\)"):
        run_gradient_study(renderers=["_contract_nan_grad"], scenes=["triangle"],
                           image_size=8, progress=False)
