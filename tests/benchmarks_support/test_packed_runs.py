"""``benchmarks/packed_runs.py``: several training runs at once on one device (issue
22, item 5), run end to end on the CPU with the smoke preset."""

from __future__ import annotations

import json

import packed_runs
import pytest


def test_steady_rate_leaves_out_the_warmup():
    recs = [{"step": 1, "wall_s": 5.0}, {"step": 2, "wall_s": 5.5}, {"step": 3, "wall_s": 6.0},
            {"step": 5, "wall_s": 7.0}]
    assert packed_runs.steady_rate(recs, 2) == pytest.approx(3 / 1.5)
    assert packed_runs.steady_rate(recs, 0) == pytest.approx(4 / 2.0)
    assert packed_runs.steady_rate(recs, 5) is None  # one record left
    assert packed_runs.steady_rate([{"step": 3, "wall_s": 1.0}, {"step": 4, "wall_s": 1.0}],
                                   0) is None  # no time passed
    assert packed_runs.steady_rate([{"step": "x"}, {"event": "stopped"}], 0) is None


def test_two_groups_end_to_end(tmp_path, tiny_data_dir, capsys):
    out = tmp_path / "packed"
    code = packed_runs.main(["--runs", "1,2", "--preset", "smoke", "--device", "cpu",
                             "--iterations", "4", "--warmup", "1", "--data-dir",
                             str(tiny_data_dir), "--out", str(out)])
    assert code == 0
    saved = json.loads((out / "packed_runs.json").read_text())
    assert [g["runs"] for g in saved["groups"]] == [1, 2]
    for g in saved["groups"]:
        assert g["returncodes"] == [0] * g["runs"] and g["steps"] == [4] * g["runs"]
        assert all(r > 0 for r in g["rates"]) and g["threads_per_run"] >= 1
        for i in range(g["runs"]):
            assert (out / str(g["runs"]) / f"run{i}" / "metrics.jsonl").is_file()
            assert not (out / str(g["runs"]) / f"run{i}" / "checkpoints").exists()
    table = capsys.readouterr().out.splitlines()
    assert "steps/s per run" in table[-3] and table[-2].split()[0] == "1"
    assert table[-1].split()[0] == "2" and table[-2].split()[4] == "1.00x"


def test_a_failed_run_is_named(tmp_path, tiny_data_dir, capsys):
    out = tmp_path / "packed"
    code = packed_runs.main(["--runs", "1", "--preset", "smoke", "--device", "cpu",
                             "--renderer", "no_such_renderer", "--iterations", "4",
                             "--warmup", "1", "--data-dir", str(tiny_data_dir), "--out",
                             str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "run 0 of the 1-run group exit status 2" in err and "run0.log" in err
    assert "no_such_renderer" in (out / "1" / "run0.log").read_text()


@pytest.mark.parametrize("argv, says", [
    (["--runs", "0"], "positive run counts"),
    (["--runs", "1,x"], "positive run counts"),
    (["--iterations", "3", "--warmup", "2"], "--warmup"),
    (["--threads-per-run", "-1"], "--threads-per-run"),
    (["--timeout", "0"], "--timeout"),
    (["--device", "cuda"], "no CUDA device"),
])
def test_bad_arguments_exit_2_with_one_line(argv, says, capsys, monkeypatch):
    monkeypatch.setattr(packed_runs, "_cuda_available", lambda: False)
    with pytest.raises(SystemExit) as exc:
        packed_runs.main(argv)
    assert exc.value.code == 2
    assert says in capsys.readouterr().err.splitlines()[-1]


def test_an_existing_results_folder_is_refused(tmp_path, capsys):
    (tmp_path / "kept.txt").write_text("earlier results")
    with pytest.raises(SystemExit) as exc:
        packed_runs.main(["--device", "cpu", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "name a new one" in capsys.readouterr().err
    assert (tmp_path / "kept.txt").read_text() == "earlier results"
