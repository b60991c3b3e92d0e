"""Intersection over union of voxel grids (3-D) and silhouettes (2-D).

IoU of two sets is ``|A and B| / |A or B|``; it is defined as 1.0 when both are empty
(two empty shapes agree perfectly).  Soft silhouettes (values in ``[0, 1]``) either are
thresholded (``value >= threshold`` is foreground: a pixel centre exactly on a SoftRas
edge has ``D = 0.5`` and counts as inside, like the hard rasterizer's inclusive edges)
or enter the soft IoU ``sum(a*b) / sum(a + b - a*b)`` used as SoftRas's training loss.
Non-finite inputs raise ``ValueError`` (:mod:`metrics.finite`): a NaN would threshold to
empty and an empty pair scores 1.0.
"""

from __future__ import annotations

import numpy as np
import torch

from .finite import check_finite


def _binarize(a, threshold: float | None):
    if a.dtype == torch.bool or a.dtype == np.bool_:
        return a
    if threshold is None:
        raise TypeError(
            f"expected boolean occupancy, got dtype {a.dtype}; pass threshold= to binarize"
        )
    return a >= threshold


def _ratio(inter, union, xp):
    if xp is torch:
        one = torch.ones_like(union)
        return torch.where(union > 0, inter / torch.where(union > 0, union, one), one)
    inter = np.asarray(inter, dtype=np.float64)
    union = np.asarray(union, dtype=np.float64)
    out = np.ones_like(union)
    np.divide(inter, union, out=out, where=union > 0)
    return out if out.ndim else float(out)


def _check_pair(pred, target, ndim: int, what: str):
    if torch.is_tensor(pred) != torch.is_tensor(target):
        # Mixed inputs: compare as numpy.
        pred = pred.detach().cpu().numpy() if torch.is_tensor(pred) else np.asarray(pred)
        target = target.detach().cpu().numpy() if torch.is_tensor(target) else np.asarray(target)
    elif not torch.is_tensor(pred):
        pred, target = np.asarray(pred), np.asarray(target)
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"{what}: pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )
    if pred.ndim not in (ndim, ndim + 1):
        raise ValueError(
            f"{what}: expected shape [N, ...] with {ndim} trailing dims (or a single one), got "
            f"{tuple(pred.shape)}"
        )
    check_finite(what, "pred", pred)
    check_finite(what, "target", target)
    return pred, target


def voxel_iou(pred, target, threshold: float | None = None):
    """Voxel IoU per shape.

    ``pred``, ``target``: occupancy ``[N, R, R, R]`` or ``[R, R, R]`` (numpy or torch),
    bool, or float probabilities binarized at ``value >= threshold`` when ``threshold`` is
    given.  Returns float64 ``[N]`` (numpy, or torch for torch inputs), or a float for a
    single grid; 1.0 where both are empty.  NaN/Inf in either raises ``ValueError``.
    """
    pred, target = _check_pair(pred, target, 3, "voxel_iou")
    a, b = _binarize(pred, threshold), _binarize(target, threshold)
    axes = (-3, -2, -1)
    if torch.is_tensor(a):
        inter = (a & b).sum(dim=axes).to(torch.float64)
        union = (a | b).sum(dim=axes).to(torch.float64)
        return _ratio(inter, union, torch)
    return _ratio((a & b).sum(axis=axes), (a | b).sum(axis=axes), np)


def silhouette_iou(pred, target, threshold: float | None = None):
    """Silhouette IoU per image.

    ``pred``, ``target``: ``[B, H, W]`` or ``[H, W]`` (numpy or torch), values in
    ``[0, 1]`` or bool.  With ``threshold`` (e.g. 0.5) both are binarized at
    ``value >= threshold`` (hard IoU); without it, the soft IoU
    ``sum(a*b) / sum(a + b - a*b)`` (which equals the hard IoU on binary inputs and is
    differentiable for torch inputs).  Returns float64 ``[B]`` (numpy, or torch for torch
    inputs; torch keeps the input dtype for the soft IoU), or a float for a single image;
    1.0 where both are empty.  NaN/Inf in either raises ``ValueError`` naming it.
    """
    pred, target = _check_pair(pred, target, 2, "silhouette_iou")
    axes = (-2, -1)
    if threshold is not None:
        a, b = _binarize(pred, threshold), _binarize(target, threshold)
    else:
        a, b = pred, target
    if torch.is_tensor(a):
        if a.dtype == torch.bool and b.dtype == torch.bool:
            inter = (a & b).sum(dim=axes).to(torch.float64)
            union = (a | b).sum(dim=axes).to(torch.float64)
        else:
            dt = a.dtype if a.is_floating_point() else torch.float64
            a, b = a.to(dt), b.to(dt)
            inter = (a * b).sum(dim=axes)
            union = (a + b - a * b).sum(dim=axes)
        return _ratio(inter, union, torch)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return _ratio((a * b).sum(axis=axes), (a + b - a * b).sum(axis=axes), np)
