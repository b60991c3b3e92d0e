"""A user's renderer module named in SOFTRAS_BENCH_PLUGINS is imported by the CLI and
its renderer becomes available to every command."""

from __future__ import annotations

import renderers
from bench_softras import cli

PLUGIN = '''
import renderers


@renderers.register("plugin_centre_test")
class Centre(renderers.Rasterizer):
    def rasterize(self, face_vertices):
        b = face_vertices.shape[0]
        return face_vertices.new_zeros(b, self.height, self.width)
'''


def test_plugin_module_registers_its_renderer(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_plugin_mod.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(cli.PLUGINS_ENV, "my_plugin_mod")
    try:
        assert cli.main(["renderers"]) == 0
        assert "plugin_centre_test" in renderers.available()
        assert "plugin_centre_test" in capsys.readouterr().out
    finally:
        renderers.base._REGISTRY.pop("plugin_centre_test", None)


def test_missing_plugin_fails_clearly(monkeypatch, capsys):
    monkeypatch.setenv(cli.PLUGINS_ENV, "no_such_plugin_module_xyz")
    assert cli.main(["renderers"]) == 2
    assert "no_such_plugin_module_xyz" in capsys.readouterr().err
