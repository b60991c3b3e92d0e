"""Non-finite values are never scored: every metric raises ValueError naming the
non-finite argument (before the fix an all-NaN silhouette scored IoU 1.0 and a NaN
gradient scored cosine 0.0, the value documented for a zero gradient)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics import forward_fidelity, silhouette_iou, voxel_iou
from metrics.gradient_accuracy import compare_gradients

EMPTY = np.zeros((4, 4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("as_torch", [False, True])
@pytest.mark.parametrize("threshold", [None, 0.5])
def test_silhouette_iou_refuses_a_nonfinite_prediction(bad, as_torch, threshold):
    pred = np.full((2, 4, 4), bad)
    target = np.zeros((2, 4, 4))
    if as_torch:
        pred, target = torch.from_numpy(pred), torch.from_numpy(target)
    with pytest.raises(ValueError, match=r"silhouette_iou: pred holds 32 NaN/Inf"):
        silhouette_iou(pred, target, threshold=threshold)


def test_silhouette_iou_refuses_a_nonfinite_target_and_a_single_nan_pixel():
    target = np.zeros((4, 4))
    target[1, 2] = np.nan
    with pytest.raises(ValueError, match="target holds 1 NaN/Inf"):
        silhouette_iou(EMPTY, target, threshold=0.5)
    pred = torch.zeros(4, 4, requires_grad=True)
    with pytest.raises(ValueError, match="target holds 1"):
        silhouette_iou(pred, torch.from_numpy(target).float())


def test_voxel_iou_refuses_nan_probabilities():
    with pytest.raises(ValueError, match="voxel_iou: pred holds"):
        voxel_iou(np.full((2, 2, 2), np.nan), np.zeros((2, 2, 2)), threshold=0.5)


def test_finite_inputs_still_score_as_before():
    assert silhouette_iou(EMPTY, EMPTY, threshold=0.5) == 1.0
    assert voxel_iou(np.zeros((2, 2, 2), bool), np.zeros((2, 2, 2), bool)) == 1.0
    assert compare_gradients(np.zeros(4), np.ones(4))["cosine"] == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_compare_gradients_refuses_a_nonfinite_gradient(bad):
    ref = np.array([1.0, -2.0, 0.5, 3.0])
    with pytest.raises(ValueError, match=r"compare_gradients: the gradient holds 4 NaN/Inf"):
        compare_gradients(np.full(4, bad), ref)
    one = np.array([1.0, bad, 0.5, 3.0])
    with pytest.raises(ValueError, match="the gradient holds 1"):
        compare_gradients(one, ref)
    with pytest.raises(ValueError, match="the reference gradient holds 1"):
        compare_gradients(ref, one)


@pytest.mark.parametrize("which", ["silhouette", "exact", "hard"])
def test_forward_fidelity_refuses_a_nonfinite_image(which):
    images = {"silhouette": EMPTY.copy(), "exact": EMPTY.copy(), "hard": EMPTY.copy()}
    images[which][:] = np.nan
    with pytest.raises(ValueError, match=f"forward_fidelity: {which} holds 16 NaN/Inf"):
        forward_fidelity(images["silhouette"], images["exact"], images["hard"])
