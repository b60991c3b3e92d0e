"""metrics.exact_coverage: pixel value = area fraction of the pixel square covered.

Scanline quadrature bound.  Along a scanline the covered length is exact; as a function of
y it is piecewise linear with kinks where a triangle vertex lies in the pixel row or an
edge crosses one of the pixel's vertical sides.  The midpoint rule is exact on linear
pieces and errs by at most 1/n (n = rows per pixel; values normalized to [0, 1]) on each
sub-row containing a kink, so |scanline - exact| <= (kinks in the pixel) / n <= 9 * (number
of triangles touching the pixel) / n.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.exact_coverage import (
    center_coverage,
    clip_coverage,
    exact_coverage,
    front_coverage,
    scanline_coverage,
    signed_area,
)
from metrics.gradient_accuracy import make_scene

N = 32
PIX = 2 / N  # pixel edge in normalized screen units


def rect(x0, x1, y0, y1):
    """Two triangles tiling the rectangle [x0, x1] x [y0, y1] (screen units)."""
    return np.array([[[x0, y0], [x1, y0], [x1, y1]], [[x0, y0], [x1, y1], [x0, y1]]])


def col(j):
    return -1 + j * PIX


def row(i):  # top edge of pixel row i
    return 1 - i * PIX


def test_pixel_aligned_square_is_exact():
    t = rect(col(4), col(10), row(8), row(3))
    for img in (clip_coverage(t, N), scanline_coverage(t, N, rows_per_pixel=4)):
        expected = np.zeros((N, N))
        expected[3:8, 4:10] = 1.0
        np.testing.assert_allclose(img, expected, atol=1e-12)


def test_partial_pixels_equal_their_area_fraction():
    # x from the middle of column 4 to a quarter into column 9; y from a quarter into
    # row 7 (from its top) up to the middle of row 3.
    t = rect(col(4.5), col(9.25), row(7.25), row(3.5))
    img = clip_coverage(t, N)
    fx = np.zeros(N)
    fx[4], fx[5:9], fx[9] = 0.5, 1.0, 0.25
    fy = np.zeros(N)
    fy[3], fy[4:7], fy[7] = 0.5, 1.0, 0.25
    np.testing.assert_allclose(img, np.outer(fy, fx), atol=1e-12)
    np.testing.assert_allclose(scanline_coverage(t, N, rows_per_pixel=4), np.outer(fy, fx),
                               atol=1e-12)


def test_triangle_total_coverage_is_its_area_and_clipped_by_the_image():
    rng = np.random.default_rng(1)
    t = rng.uniform(-0.9, 0.9, size=(1, 3, 2))
    img = clip_coverage(t, N)
    assert img.sum() * PIX**2 == pytest.approx(abs(signed_area(t)[0]), rel=1e-12)
    assert img.min() >= 0 and img.max() <= 1 + 1e-12
    # A triangle sticking out of the image only counts its visible part.
    big = np.array([[[-3.0, -3.0], [3.0, -3.0], [0.0, 3.0]]])
    assert clip_coverage(big, N).sum() * PIX**2 < abs(signed_area(big)[0])
    assert clip_coverage(big, N)[N // 2, N // 2] == pytest.approx(1.0)
    # Winding does not matter; torch input and [F, 3, 3] input are accepted.
    np.testing.assert_allclose(clip_coverage(t[:, ::-1], N), img, atol=1e-15)
    t3 = torch.from_numpy(np.concatenate([t, np.ones((1, 3, 1))], axis=-1))
    np.testing.assert_allclose(clip_coverage(t3, N), img, atol=1e-15)


def test_scanline_agrees_with_analytic_clipping_on_disjoint_triangles():
    scene = make_scene("soup_disjoint", seed=3)
    tri = scene.vertices[scene.faces]
    exact = clip_coverage(tri, N)
    touching = (clip_coverage(tri, N, per_face=True) > 0).sum(axis=0)
    errs = []
    for n in (16, 256):
        err = np.abs(scanline_coverage(tri, N, rows_per_pixel=n) - exact)
        assert (err <= 9 * touching / n + 1e-12).all()
        errs.append(err.max())
    assert errs[1] < errs[0] / 4  # converges


def test_union_of_overlapping_triangles():
    a = rect(col(2), col(10), row(10), row(2))
    b = rect(col(6), col(14), row(10), row(2))  # overlaps a in columns 6..9
    both = np.concatenate([a, b])
    union = scanline_coverage(both, N, rows_per_pixel=8)
    expected = np.zeros((N, N))
    expected[2:10, 2:14] = 1.0
    np.testing.assert_allclose(union, expected, atol=1e-12)
    # Clipping sums the overlap twice (documented): that is what "scanline" is for.
    assert clip_coverage(both, N).max() == pytest.approx(2.0)


def test_front_faces_of_a_convex_mesh_tile_its_silhouette():
    scene = make_scene("box")
    tri = scene.screen_xy()[scene.faces]
    front = front_coverage(tri, N)
    union = scanline_coverage(tri, N, rows_per_pixel=256)
    assert np.abs(front - union).max() < 0.01
    assert front.max() <= 1 + 1e-9
    assert clip_coverage(tri, N).max() > 1.5  # back faces overlap the front ones


def test_center_coverage_is_the_pixel_centre_test():
    # A rectangle from column 4.6 to 9.25 and row 3.6 to 7.25 contains the centres of
    # columns 5..8 and rows 4..6 only (pixel (i, j) has its centre at (i + 0.5, j + 0.5)).
    t = rect(col(4.6), col(9.25), row(7.25), row(3.6))
    expected = np.zeros((N, N))
    expected[4:7, 5:9] = 1.0
    np.testing.assert_array_equal(center_coverage(t, N), expected)
    # Exact coverage thresholded at 0.5 differs from centre sampling only on boundary
    # pixels of partial coverage.
    np.testing.assert_array_equal(clip_coverage(t, N) >= 1.0, expected == 1.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        clip_coverage(np.zeros((2, 4, 2)), N)
    with pytest.raises(ValueError, match="NaN"):
        scanline_coverage(np.full((1, 3, 2), np.nan), N)
    with pytest.raises(ValueError, match="unknown coverage method"):
        exact_coverage(np.zeros((1, 3, 2)), N, method="magic")
    with pytest.raises(ValueError, match="positive"):
        clip_coverage(np.zeros((1, 3, 2)), 0)
    assert clip_coverage(np.zeros((0, 3, 2)), N).sum() == 0
    assert scanline_coverage(np.zeros((0, 3, 2)), N).sum() == 0
