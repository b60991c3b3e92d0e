"""bench_softras.atomic: temp-and-rename writes leave the old file on failure."""

import pandas as pd
import pytest

from bench_softras import atomic


def test_write_text_replaces(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    atomic.write_text(p, "one")
    atomic.write_text(p, "two")
    assert p.read_text() == "two"
    assert [q.name for q in p.parent.iterdir()] == ["a.txt"]


def test_failed_writer_keeps_old_content_and_no_temp(tmp_path):
    p = tmp_path / "a.csv"
    atomic.write_table(pd.DataFrame({"x": [1, 2]}), p)

    def boom(tmp):
        tmp.write_text("partial")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic.write_with(p, boom)
    assert pd.read_csv(p)["x"].tolist() == [1, 2]
    assert [q.name for q in tmp_path.iterdir()] == ["a.csv"]


def test_write_table_parquet_and_bad_suffix(tmp_path):
    df = pd.DataFrame({"x": [1.5]})
    atomic.write_table(df, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet").equals(df)
    with pytest.raises(ValueError, match="csv or .parquet"):
        atomic.write_table(df, tmp_path / "t.xlsx")
