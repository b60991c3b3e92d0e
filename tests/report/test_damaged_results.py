"""Damaged or empty results under ``softras-bench report --from-results`` (results are
data from elsewhere): a file that cannot be read gives one line naming it and the stage
to rerun (exit status 2, ``DamagedResultsError`` in the API); a table saved without rows
is named in the report's "Empty results" note and the report still builds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench_softras import cli
from bench_softras.report.build import build_report
from bench_softras.report.results import DamagedResultsError, read_examples, read_table

COLUMNS = {
    ("fitting", "fitting"): "renderer,shape,category,step,loss,voxel_iou,silhouette_iou,"
                            "color_mse,seed,wall_s,preset",
    ("gradients", "gradient_accuracy"): "renderer,scene,sigma,space,method,loss,cosine,"
                                        "rel_l2,sign_agree,norm_ratio,n_signif,n_vertices,"
                                        "image_size,seed",
    ("gradients", "forward_fidelity"): "renderer,scene,sigma,mad_exact,mad_hard,sil_iou,"
                                       "sil_iou_hard,image_size,seed",
    ("ablations", "ablations"): "variant,shape,renderer,sigma,use_laplacian,use_flatten,"
                                "num_views,color_weight,voxel_iou,silhouette_iou,color_mse,"
                                "color_mse_start,steps,wall_s",
    ("timing", "timing"): "renderer,sweep,faces,image_size,batch,sigma,pass,time_s,"
                          "peak_mem_mb,images_per_s,pairs_evaluated,ns_per_pair,device,repeats",
}
FIT_ROW = {"renderer": "softras", "shape": "cube", "category": "cube", "step": 0,
           "loss": 1.0, "voxel_iou": 0.5, "silhouette_iou": 0.6, "color_mse": np.nan,
           "seed": 0, "wall_s": 0.1, "preset": "smoke"}


def _run_dir(tmp_path, run: object = None):
    d = tmp_path / "results" / "run1"
    d.mkdir(parents=True)
    run = {"run_id": "run1", "config": {"preset": "smoke"}} if run is None else run
    (d / "run.json").write_text(json.dumps(run))
    return d


def _write(d, stage: str, stem: str, df: pd.DataFrame, fmt: str = "parquet"):
    (d / stage).mkdir(exist_ok=True)
    (d / stage / "stage.json").write_text(json.dumps({"status": "done"}))  # not shards
    path = d / stage / f"{stem}.{fmt}"
    df.to_parquet(path) if fmt == "parquet" else df.to_csv(path, index=False)
    return path


def _empty(key) -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS[key].split(","))


def _from_results(tmp_path, capsys, d) -> tuple[int, str]:
    code = cli.main(["report", "--from-results", str(d), "--report-dir",
                     str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


@pytest.mark.parametrize("key", list(COLUMNS))
def test_zero_row_table_is_named_and_the_report_builds(tmp_path, capsys, key):
    d = _run_dir(tmp_path)
    _write(d, "fitting", "fitting", pd.DataFrame([FIT_ROW]))  # one good table besides
    if key != ("fitting", "fitting"):
        _write(d, *key, _empty(key))
    else:
        _write(d, "fitting", "fitting", _empty(key))
    if key == ("timing", "timing"):  # the cost cap emptied it: its skipped list
        pd.DataFrame([{"renderer": "softras_torch", "sweep": "faces", "reason": "cap"}]
                     ).to_csv(d / "timing" / "timing_skipped.csv", index=False)
    code, err = _from_results(tmp_path, capsys, d)
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Empty results" in md and f"{key[0]}/{key[1]}: no rows" in md
    if key == ("timing", "timing"):
        assert "timing_skipped.csv lists 1 configurations over the cost cap" in md


def test_both_csv_and_parquet_zero_rows_from_a_capped_timing_run(tmp_path, capsys):
    d = _run_dir(tmp_path)
    _write(d, "timing", "timing", _empty(("timing", "timing")), "csv")
    code, err = _from_results(tmp_path, capsys, d)
    assert code == 0, err


def _damage(d, case: str):
    if case == "truncated csv":
        text = pd.DataFrame([FIT_ROW] * 3).to_csv(index=False)
        _write(d, "fitting", "fitting", pd.DataFrame([FIT_ROW]), "csv")
        (d / "fitting" / "fitting.csv").write_text(text[: len(text) - 7])
        return d / "fitting" / "fitting.csv", "cut short"
    if case == "empty csv":
        (d / "timing").mkdir()
        (d / "timing" / "timing.csv").write_text("")
        return d / "timing" / "timing.csv", "empty or cut short"
    if case == "garbage parquet":
        (d / "timing").mkdir()
        (d / "timing" / "timing.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 4)
        return d / "timing" / "timing.parquet", "not a readable Parquet table"
    if case == "run.json list":
        (d / "run.json").write_text("[1, 2]")
        _write(d, "fitting", "fitting", pd.DataFrame([FIT_ROW]))
        return d / "run.json", "holds a JSON list, not a JSON object"
    (d / "examples").mkdir()
    path = d / "examples" / "examples.npz"
    if case == "garbage npz":
        path.write_bytes(b"garbage, not a zip archive\n")
        return path, "not a readable .npz archive"
    np.savez(path, views=np.array([{"x": 1}], dtype=object))
    return path, "holds object arrays"


CASES = ["truncated csv", "empty csv", "garbage parquet", "run.json list", "garbage npz",
         "object npz"]


@pytest.mark.parametrize("case", CASES)
def test_damaged_file_is_one_line(tmp_path, capsys, case):
    d = _run_dir(tmp_path)
    path, why = _damage(d, case)
    code, err = _from_results(tmp_path, capsys, d)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(path) in err and why in err and "restore it" in err, err
    stage = path.parent.name
    if stage != "run1":
        assert f"--stages {stage} --force" in err
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("case", ["truncated csv", "garbage parquet", "garbage npz",
                                  "object npz"])
def test_damaged_file_in_the_api(tmp_path, case):
    d = _run_dir(tmp_path)
    path, why = _damage(d, case)
    with pytest.raises(DamagedResultsError, match=why):
        if path.suffix == ".npz":
            read_examples(d)
        else:
            read_table(d, "fitting" if path.parent.name == "fitting" else "timing")
    with pytest.raises(DamagedResultsError):
        build_report(d, tmp_path / "report")


@pytest.mark.parametrize(("name", "content", "names"), [
    ("fitting/stage.json", [None], "holds a JSON list, not a JSON object"),
    ("renderers.json", [None], "not every entry is an object naming its renderer"),
    ("renderers.json", [{"order": 1}], "not every entry is an object naming its renderer"),
])
def test_damaged_records_found_by_the_cli_fuzz(tmp_path, capsys, name, content, names):
    """The long CLI fuzz (seed 1, 300 examples) found these two records read without a
    check: a ``stage.json`` holding a list and a ``renderers.json`` whose entries are
    not objects each crashed the report with a traceback."""
    d = _run_dir(tmp_path)
    _write(d, "fitting", "fitting", pd.DataFrame([FIT_ROW]))
    (d / name).write_text(json.dumps(content))
    code, err = _from_results(tmp_path, capsys, d)
    assert code == 2 and names in err and name.split("/")[-1] in err
    assert len(err.splitlines()) == 1
