"""``scripts/kernel_digests.py`` (bit digests of ``softras`` to compare before and after a
kernel change): it runs, writes four 12-digit digests per setting, and two runs in one
process agree (the kernels are deterministic on the CPU)."""

from __future__ import annotations

import json

from script_module import load_script


def _module():
    return load_script("kernel_digests")


def test_quick_digests_are_written_and_repeat(tmp_path):
    mod = _module()
    runs = []
    for k in range(2):
        out = tmp_path / f"d{k}.json"
        assert mod.main(["--quick", "--out", str(out)]) == 0
        runs.append(json.loads(out.read_text()))
    assert list(runs[0]) == ["64-float32-3e-05"]
    digests = runs[0]["64-float32-3e-05"]
    assert len(digests) == 4 and all(len(d) == 12 and int(d, 16) >= 0 for d in digests)
    assert digests[0] == digests[2]  # render and rasterize of the same faces: same bits
    assert digests[1] != digests[3]  # world-vertex vs face-vertex gradients
    assert runs[0] == runs[1]
