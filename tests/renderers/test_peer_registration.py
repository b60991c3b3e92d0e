"""Optional third-party renderers register only where they import."""

from __future__ import annotations

import renderers
from renderers.peers import PEERS, register_peers


# -- optional renderers ------------------------------------------------------------------
def test_optional_pytorch3d_adapter_registers_only_when_installed():
    import importlib.util

    notes = register_peers()
    if importlib.util.find_spec("pytorch3d") is None:
        assert notes["pytorch3d_soft"] == "pytorch3d is not installed"
        assert "pytorch3d_soft" not in renderers.available()
    else:  # pragma: no cover - pytorch3d is not installable on the CI machines
        assert "pytorch3d_soft" in renderers.available()
    # Every peer is either registered or noted as absent, never both.
    assert set(notes) == {n for n in PEERS if n not in renderers.available()}
