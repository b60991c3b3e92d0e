"""The paper's Table 1 (Liu et al., Soft Rasterizer, 2019): mean voxel IoU of
single-view reconstruction on the 13 ShapeNet classes, shipped as package data
(``paper_table1.csv``) so reports can print it beside this suite's numbers.  These are
the paper's numbers on real ShapeNet, not results of this code."""

from __future__ import annotations

import io
from importlib import resources

import pandas as pd

#: Methods (columns) of the paper's table, as in the CSV.
PAPER_METHODS = ("retrieval_PTN", "voxel_PTN", "N3MR", "SoftRas")


def paper_table1() -> pd.DataFrame:
    """The paper's Table 1: columns ``class_id`` (str, ShapeNet synset), ``category``
    (the paper's name) and one float column per method of :data:`PAPER_METHODS`, one row
    per class (13)."""
    text = resources.files("bench_softras.report").joinpath("paper_table1.csv").read_text()
    df = pd.read_csv(io.StringIO(text), comment="#", dtype={"class_id": str})
    missing = {"class_id", "category", *PAPER_METHODS} - set(df.columns)
    if missing:
        raise ValueError(f"paper_table1.csv lacks columns {sorted(missing)}")
    return df
