"""metrics.voxel_iou / silhouette_iou: |A and B| / |A or B| per shape, 1 when both empty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics import silhouette_iou, voxel_iou, voxelize
from metrics.open3d_import import open3d
from metrics.voxel_grid import voxel_size


def box(lo, hi):
    o3d = open3d()
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    m = o3d.geometry.TriangleMesh.create_box(*(hi - lo))
    m.translate(lo)
    return np.asarray(m.vertices).copy(), np.asarray(m.triangles).astype(np.int64)


def test_voxel_iou_self_and_shifted_copy_by_hand():
    h = voxel_size(32)
    # A box spanning 10 x 8 x 6 voxel centres (its faces lie midway between centres).
    lo = np.array([-5, -4, -3]) * h
    v, f = box(lo, lo + np.array([10, 8, 6]) * h)
    a = voxelize(v, f, surface=False)  # the centre rule: exactly the centres inside
    assert a.sum() == 10 * 8 * 6
    assert voxel_iou(a, a) == 1.0
    # Shift by 3 voxels along x: overlap 7 x 8 x 6, union (10 + 3) x 8 x 6.
    b = voxelize(v + np.array([3 * h, 0, 0]), f, surface=False)
    assert voxel_iou(a, b) == pytest.approx(7 / 13, abs=1e-12)
    # Batched, numpy and torch, with an empty pair (defined as 1).
    empty = np.zeros_like(a)
    got = voxel_iou(np.stack([a, a, empty]), np.stack([a, b, empty]))
    np.testing.assert_allclose(got, [1.0, 7 / 13, 1.0])
    got_t = voxel_iou(torch.from_numpy(np.stack([a, empty])), torch.from_numpy(np.stack([b, a])))
    assert torch.is_tensor(got_t)
    np.testing.assert_allclose(got_t.numpy(), [7 / 13, 0.0])


def test_voxel_iou_probabilities_need_a_threshold():
    p = np.zeros((4, 4, 4))
    p[:2] = 0.7
    p[2] = 0.5
    t = np.zeros((4, 4, 4), dtype=bool)
    t[:2] = True
    with pytest.raises(TypeError, match="threshold"):
        voxel_iou(p, t)
    assert voxel_iou(p, t, threshold=0.5) == pytest.approx(2 / 3)
    assert voxel_iou(p, t, threshold=0.6) == 1.0


def test_silhouette_iou_by_hand():
    a = np.zeros((16, 16), dtype=bool)
    a[4:12, 2:10] = True  # 8 x 8 square
    b = np.roll(a, 2, axis=1)  # shifted two columns: overlap 8 x 6, union 8 x 10
    assert silhouette_iou(a, a) == 1.0
    assert silhouette_iou(a, b) == pytest.approx(0.6)
    z = np.zeros_like(a)
    np.testing.assert_allclose(silhouette_iou(np.stack([a, z, z]), np.stack([b, z, a])),
                               [0.6, 1.0, 0.0])


def test_silhouette_iou_soft_and_thresholded():
    rng = np.random.default_rng(0)
    soft = rng.uniform(size=(3, 8, 8))
    target = rng.uniform(size=(3, 8, 8)) > 0.5
    # Thresholding at 0.5 (inclusive) equals the hard IoU of the binarized images.
    np.testing.assert_allclose(silhouette_iou(soft, target, threshold=0.5),
                               silhouette_iou(soft >= 0.5, target))
    soft[0, 0, 0] = 0.5
    assert silhouette_iou(soft[0], soft[0] >= 0.5, threshold=0.5) == 1.0
    # Soft IoU: sum(a*b) / sum(a + b - a*b), in [0, 1], and differentiable in torch.
    expected = (soft * target).sum((1, 2)) / (soft + target - soft * target).sum((1, 2))
    np.testing.assert_allclose(silhouette_iou(soft, target), expected)
    x = torch.tensor(soft, requires_grad=True)
    iou = silhouette_iou(x, torch.tensor(target))
    iou.sum().backward()
    np.testing.assert_allclose(iou.detach().numpy(), expected)
    # Raising the prediction on a target pixel raises the IoU.
    assert (x.grad[torch.tensor(target)] > 0).all()
    assert (x.grad[~torch.tensor(target)] < 0).all()


def test_iou_bad_inputs():
    with pytest.raises(ValueError, match="shapes differ"):
        silhouette_iou(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="trailing dims"):
        voxel_iou(np.zeros((4, 4), bool), np.zeros((4, 4), bool))
