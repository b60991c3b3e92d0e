"""A finished stage whose output was emptied or removed runs again, saying so; every
stage record is written whole (temp-and-rename)."""

from __future__ import annotations

import logging

from bench_softras.runs import run_stage


def test_zero_byte_output_reruns_the_stage(tmp_path, caplog):
    calls = []

    def fn(d):
        calls.append(1)
        out = d / "table.csv"
        out.write_text("x\n1\n")
        return [out]

    assert run_stage(tmp_path, "fitting", {"a": 1}, fn)[0] == "ran"
    assert run_stage(tmp_path, "fitting", {"a": 1}, fn)[0] == "skipped"
    (tmp_path / "fitting" / "table.csv").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        assert run_stage(tmp_path, "fitting", {"a": 1}, fn)[0] == "ran"
    assert "table.csv is missing or empty" in caplog.text and len(calls) == 2
    assert not list((tmp_path / "fitting").glob("*.tmp"))
