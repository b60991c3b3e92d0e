"""The one check that a measured quantity is finite before it is scored.

A NaN compares false with everything, so a NaN silhouette thresholded at 0.5 is empty
(and an empty prediction against an empty target scores IoU 1.0), and a NaN gradient
has no sign: without this check a renderer that returns NaN would be scored as perfect
or as "zero gradient".  Every metric calls :func:`check_finite` on its inputs and raises
``ValueError`` naming the metric, the argument and how many values are NaN/Inf.
"""

from __future__ import annotations

import numpy as np
import torch


def count_nonfinite(values) -> int:
    """Number of NaN/Inf entries of ``values`` (numpy array, torch tensor or anything
    ``np.asarray`` takes); 0 for bool and integer data."""
    if torch.is_tensor(values):
        if not (values.is_floating_point() or values.is_complex()):
            return 0
        with torch.no_grad():
            return int((~torch.isfinite(values.detach())).sum())
    a = np.asarray(values)
    if not np.issubdtype(a.dtype, np.inexact):
        return 0
    return int(a.size - np.count_nonzero(np.isfinite(a)))


def check_finite(metric: str, what: str, values) -> None:
    """Raise ``ValueError`` when ``values`` hold NaN/Inf: ``"<metric>: <what> holds N
    NaN/Inf values (of M); ..."``.  ``values``: numpy array or torch tensor, any shape."""
    bad = count_nonfinite(values)
    if bad:
        size = values.numel() if torch.is_tensor(values) else np.asarray(values).size
        raise ValueError(f"{metric}: {what} holds {bad} NaN/Inf values (of {size}); a "
                         f"non-finite value has no score (NaN thresholds to empty and would "
                         f"count as a match): find what produced it (the renderer or model "
                         f"that made {what})")
