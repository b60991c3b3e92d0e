"""Forward fidelity of a soft silhouette: how far it is from the exact pixel coverage
(:mod:`metrics.exact_coverage`) and from the hard (pixel-centre) silhouette."""

from __future__ import annotations

import numpy as np

from .finite import check_finite
from .iou import silhouette_iou


def forward_fidelity(silhouette, exact, hard) -> dict[str, float]:
    """Compare a rendered silhouette with the references, all ``[H, W]`` numpy/torch
    with values in ``[0, 1]``:

    * ``mad_exact`` / ``mad_hard``: mean absolute pixel difference to the exact coverage /
      to the hard silhouette;
    * ``sil_iou`` / ``sil_iou_hard``: IoU after thresholding both images at 0.5 (value
      ``>= 0.5`` is foreground), against the exact coverage / the hard silhouette.

    NaN/Inf in any image raises ``ValueError`` naming it (a NaN silhouette would
    threshold to empty, and an empty pair scores IoU 1.0).
    """
    s, e, h = (np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a,
                          dtype=np.float64) for a in (silhouette, exact, hard))
    if not (s.shape == e.shape == h.shape) or s.ndim != 2:
        raise ValueError(f"expected three [H, W] images, got {s.shape}, {e.shape}, {h.shape}")
    for what, image in (("silhouette", s), ("exact", e), ("hard", h)):
        check_finite("forward_fidelity", what, image)
    return {
        "mad_exact": float(np.abs(s - e).mean()),
        "mad_hard": float(np.abs(s - h).mean()),
        "sil_iou": float(silhouette_iou(s, e, threshold=0.5)),
        "sil_iou_hard": float(silhouette_iou(s, h, threshold=0.5)),
    }
