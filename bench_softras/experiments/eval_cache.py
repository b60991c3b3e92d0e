"""Saved evaluations of a checkpoint (``eval_<split>_<checkpoint>_<rule>_<digest>.csv`` in
a training run's directory), read back only when whole.

An evaluation file is trusted when it parses, has the evaluation's columns and one
finite row per class of the evaluated set; anything else (a zero-byte file, a file cut
short, a missing class) is reported and the evaluation redone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def read_cached_evaluation(path: str | Path, class_ids: Sequence[str],
                           columns: Sequence[str], force: bool = False
                           ) -> pd.DataFrame | None:
    """The saved evaluation at ``path`` (``seed`` as nullable Int64), or None when it is
    absent, incomplete (then a warning says why and that it is redone) or ``force``."""
    path = Path(path)
    if not path.exists():
        return None
    if force:
        log.info("--force: evaluating again (not reading %s)", path)
        return None
    problem = None
    try:
        df = pd.read_csv(path, dtype={"class_id": str})
    except (ValueError, OSError) as exc:  # EmptyDataError and ParserError are ValueErrors
        df, problem = None, f"unreadable ({type(exc).__name__}: {exc})"
    if df is not None:
        missing_cols = [c for c in columns if c not in df.columns]
        missing = sorted(set(class_ids) - set(df.get("class_id", pd.Series(dtype=str))))
        if missing_cols:
            problem = f"lacks columns {missing_cols}"
        elif missing:
            problem = f"lacks classes {missing}"
        elif not np.isfinite(pd.to_numeric(df["voxel_iou"], errors="coerce")).all():
            problem = "has missing or non-numeric voxel_iou values"
    if problem:
        log.warning("saved evaluation %s %s; evaluating again", path, problem)
        return None
    df["seed"] = df["seed"].astype("Int64")
    log.info("evaluation read back from %s", path)
    return df


def read_cached_per_object(path: str | Path) -> pd.DataFrame | None:
    """The saved per-object table at ``path`` (a parquet file written beside its
    evaluation), or None when it is absent or unreadable (a warning says why; the
    evaluation is then redone)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except (ValueError, OSError) as exc:  # a cut-short or zero-byte parquet file
        log.warning("saved per-object table %s unreadable (%s: %s); evaluating again",
                    path, type(exc).__name__, exc)
        return None
