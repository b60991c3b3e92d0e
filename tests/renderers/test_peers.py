"""Optional third-party renderers (:mod:`renderers.peers`): registered by ``renderers``
itself where installed, so every command and study sees them; equal to ours where the
formulas say they must be."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from random_meshes import random_faces

import renderers
from renderers.peers import PEERS, absent_peers


def test_peers_are_registered_exactly_when_installed():
    for name, (_module, _cls, package) in PEERS.items():
        installed = importlib.util.find_spec(package) is not None
        assert (name in renderers.available()) == installed
        assert (name in absent_peers()) == (not installed)
        if not installed:
            assert absent_peers()[name] == f"{package} is not installed"


def test_every_study_resolves_peers_through_renderers():
    """The gradient study, fitting and timing all build renderers through
    ``renderers.build``; an installed peer is therefore known to all of them."""
    from bench_softras.experiments.renderer_choice import make_renderer

    for name in PEERS:
        if name in renderers.available():
            assert make_renderer(name, 16, sigma=1e-4).height == 16
        else:
            with pytest.raises(KeyError, match="optional peer that is not installed here"):
                make_renderer(name, 16, sigma=1e-4)


@pytest.mark.skipif(importlib.util.find_spec("pytorch3d") is None,
                    reason="pytorch3d is not installed (a CPU source "
                           "build, see the README)")
def test_pytorch3d_soft_equals_softras_with_sigma_one_to_one():
    """Same Eq. 1-2 with sigma mapped 1:1: silhouettes within 1e-4 mean abs diff at
    eps 1e-4 (measured 6e-6), gradient cosine > 0.99 (measured 0.999)."""
    fv = random_faces(2, 12, dtype=torch.float32, seed=3, scale=0.6)
    sigma = 1e-4
    ours = renderers.get("softras", image_size=32, sigma=sigma, eps=1e-4)
    peer = renderers.get("pytorch3d_soft", image_size=32, sigma=sigma, eps=1e-4,
                         faces_per_pixel=12)
    a = fv.clone().requires_grad_(True)
    b = fv.clone().requires_grad_(True)
    sa, sb = ours.rasterize(a), peer.rasterize(b)
    assert float((sa - sb).detach().abs().mean()) < 1e-4
    w = torch.rand(sa.shape, generator=torch.Generator().manual_seed(0))
    (sa * w).sum().backward()
    (sb * w).sum().backward()
    ga, gb = a.grad[..., :2].flatten(), b.grad[..., :2].flatten()
    assert float(torch.nn.functional.cosine_similarity(ga, gb, dim=0)) > 0.99


# -- nox -s report_peers: its helpers in noxfile.py ----------------------------------------
ROOT = Path(__file__).resolve().parents[2]


class _Session:
    """The part of ``nox.Session`` the helpers use: ``log`` and ``error`` (which stops)."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def log(self, message: str) -> None:
        self.logs.append(message)

    def error(self, message: str) -> None:
        raise RuntimeError(message)


@pytest.fixture
def noxfile(monkeypatch):
    """``noxfile.py`` imported with a stand-in for ``nox`` (not a test dependency; its
    decorators return the function), run from the repository root."""
    stub = types.ModuleType("nox")
    stub.options = types.SimpleNamespace()
    stub.session = lambda *args, **kwargs: (lambda f: f)
    monkeypatch.setitem(sys.modules, "nox", stub)
    monkeypatch.chdir(ROOT)
    spec = importlib.util.spec_from_file_location("_noxfile_under_test", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def llvm(noxfile, monkeypatch, tmp_path):
    """Debian's LLVM 19 moved to a temporary path (absent until ``apt`` "installs" it),
    ``$DRJIT_LIBLLVM_PATH`` unset; returns ``(setup module, library path, installs)``."""
    from renderers.peers import mitsuba_setup

    setup = noxfile._mitsuba_setup()
    assert setup.DEBIAN_LLVM19 == mitsuba_setup.DEBIAN_LLVM19  # one source of truth
    lib = tmp_path / "libLLVM.so.19.1"
    monkeypatch.setattr(setup, "DEBIAN_LLVM19", (str(lib),))
    monkeypatch.setattr(noxfile, "_mitsuba_setup", lambda: setup)
    monkeypatch.delenv(setup.LLVM_ENV, raising=False)
    installs: list[str] = []

    def apt_install(package: str) -> None:
        installs.append(package)
        lib.write_bytes(b"")

    monkeypatch.setattr(noxfile, "_apt_install", apt_install)
    return setup, str(lib), installs


def test_report_peers_installs_libllvm19_as_root_and_points_drjit_at_it(noxfile, llvm,
                                                                         monkeypatch):
    setup, lib, installs = llvm
    monkeypatch.setattr(noxfile, "_can_apt", lambda: True)
    assert noxfile._ensure_llvm19(_Session()) == {setup.LLVM_ENV: lib}
    assert installs == ["libllvm19"]
    assert noxfile._ensure_llvm19(_Session()) == {setup.LLVM_ENV: lib}
    assert installs == ["libllvm19"]  # installed already: no second install
    monkeypatch.setenv(setup.LLVM_ENV, "/opt/llvm/lib/libLLVM.so")
    assert noxfile._ensure_llvm19(_Session()) == {}  # the user's library, as set


def test_report_peers_without_llvm19_or_root_stops_with_the_fix(noxfile, llvm, monkeypatch):
    setup, _lib, installs = llvm
    monkeypatch.setattr(noxfile, "_can_apt", lambda: False)
    with pytest.raises(RuntimeError, match="apt-get install libllvm19") as err:
        noxfile._ensure_llvm19(_Session())
    assert installs == [] and "\n" not in str(err.value)
    monkeypatch.setattr(noxfile, "_can_apt", lambda: True)
    monkeypatch.setattr(noxfile, "_apt_install", lambda package: "apt-get update failed: E")
    with pytest.raises(RuntimeError, match="could not install libllvm19.*update failed"):
        noxfile._ensure_llvm19(_Session())


def test_peers_env_reads_the_shared_environments_pth_files(noxfile, tmp_path):
    """The package is installed editable in the shared environment (a ``.pth`` file
    there); the peers environment must import it from anywhere, not only from the
    repository root (a plain path line to the shared site-packages did not)."""
    shared, source, peers = (tmp_path / d for d in ("shared", "source", "peers"))
    for d in (shared, source, peers):
        d.mkdir()
    (source / "softras_editable_marker.py").write_text("VALUE = 7\n")
    (shared / "__editable__.softras_marker.pth").write_text(f"{source}\n")
    (peers / "softras_shared.pth").write_text(noxfile._shared_pth(str(shared)))
    code = (f"import site; site.addsitedir({str(peers)!r}); "
            "import softras_editable_marker as m; print(m.VALUE)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert done.stdout.strip() == "7", done.stderr
