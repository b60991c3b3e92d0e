"""metrics.forward_fidelity: mean absolute differences and thresholded IoUs, by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics import forward_fidelity


def test_forward_fidelity_by_hand():
    exact = np.zeros((4, 4))
    exact[1:3, 1:3] = 1.0
    exact[1, 3] = 0.4  # partial pixel: below the 0.5 threshold
    hard = (exact >= 0.5).astype(float)
    soft = hard * 0.8
    soft[0, 0] = 0.6  # a leak outside, above threshold
    got = forward_fidelity(torch.from_numpy(soft), exact, hard)
    assert got["mad_exact"] == pytest.approx((4 * 0.2 + 0.6 + 0.4) / 16)
    assert got["mad_hard"] == pytest.approx((4 * 0.2 + 0.6) / 16)
    assert got["sil_iou"] == pytest.approx(4 / 5) == got["sil_iou_hard"]
    with pytest.raises(ValueError, match="three"):
        forward_fidelity(soft, exact[:2], hard)
