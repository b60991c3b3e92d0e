"""The verdict statistics against cases worked out by hand: convergence flags and the
paired, stratified bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench_softras.report.stats import (
    STILL_IMPROVING_GAIN,
    PairedEstimate,
    bootstrap_replicates,
    convergence,
    paired_bootstrap,
    verdict,
    verdict_word,
)


def _table(rows):
    """Per-object rows ``(renderer, seed, category, object, view, iou)``."""
    return pd.DataFrame(rows, columns=["renderer", "seed", "category", "object", "view",
                                       "voxel_iou"])


def _pair(diffs, seeds=(0,), category="chair", views=(0,)):
    """Renderer ``a`` at ``0.5 + d`` and ``b`` at 0.5 for object ``k`` with ``diffs[k]``
    (a list per seed when ``diffs`` is nested)."""
    rows = []
    for si, s in enumerate(seeds):
        ds = diffs[si] if isinstance(diffs[0], (list, tuple)) else diffs
        for k, d in enumerate(ds):
            for v in views:
                rows.append(("a", s, category, k, v, 0.5 + d))
                rows.append(("b", s, category, k, v, 0.5))
    return _table(rows)


# -- convergence -----------------------------------------------------------------------
def test_a_run_still_rising_in_its_last_quarter_is_flagged():
    steps = np.arange(0, 801, 100)
    rising = 0.2 + 0.0005 * steps  # gains 0.1 over steps 600..800
    c = convergence(steps, rising)
    assert c.gain == pytest.approx(0.1)
    assert c.still_improving and c.label == "still improving"
    assert c.window == (600.0, 800.0)


def test_a_run_falling_in_its_last_quarter_is_flagged_declining():
    steps = np.arange(0, 801, 100)
    c = convergence(steps, 0.5 - 0.0002 * steps)  # falls 0.04 over steps 600..800
    assert c.gain == pytest.approx(-0.04)
    assert c.still_declining and not c.still_improving and c.label == "still declining"
    small = convergence(steps, 0.5 - 0.00002 * steps)  # -0.004: within the threshold
    assert not small.still_declining and small.label == "plateaued"


def test_a_plateaued_run_is_not_flagged():
    steps = np.arange(0, 801, 100)
    plateau = 0.6 - 0.4 * np.exp(-steps / 80.0)  # rises fast, flat by step 600
    c = convergence(steps, plateau)
    assert abs(c.gain) < STILL_IMPROVING_GAIN
    assert not c.still_improving and c.label == "plateaued"


def test_gain_uses_the_trailing_quarter_interpolated_and_a_least_squares_fit():
    # Window starts at 0.75 * 10 = 7.5, between points 5 and 10: interpolated there.
    c = convergence([0, 5, 10], [0.0, 0.5, 0.6])
    assert c.window == (7.5, 10.0)
    assert c.gain == pytest.approx(0.6 - 0.55)
    # Noisy points inside the window: the least-squares line, not the last difference.
    c = convergence([0, 60, 70, 80, 90, 100], [0.0, 0.5, 0.6, 0.5, 0.6, 0.5])
    x = np.array([75.0, 80, 90, 100])
    y = np.array([0.55, 0.5, 0.6, 0.5])
    assert c.gain == pytest.approx(np.polyfit(x, y, 1)[0] * 25)


def test_too_short_a_curve_has_no_verdict():
    assert convergence([0], [0.3]).label == "unknown"
    assert math.isnan(convergence([], []).gain)


# -- paired bootstrap --------------------------------------------------------------------
def test_equal_differences_collapse_the_interval_to_that_value():
    res = paired_bootstrap(_pair([0.125] * 5, seeds=(0, 1), views=(0, 3)), "a", "b")
    for key in ("chair", "overall"):
        e = res[key]
        assert (e.estimate, e.low, e.high) == pytest.approx((0.125, 0.125, 0.125))
        assert (e.n_objects, e.n_seeds) == (5, 2)


def test_two_objects_have_the_known_resampling_distribution():
    # Differences 0 and 1: a resample of two objects has mean 0 (p 1/4), 1/2 (p 1/2) or
    # 1 (p 1/4), so the 2.5% and 97.5% percentiles are exactly 0 and 1.
    diffs = {"chair": np.array([[0.0, 1.0]])}
    reps = bootstrap_replicates(diffs, samples=20000)["chair"]
    values, counts = np.unique(reps, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.015)
    e = paired_bootstrap(_pair([0.0, 1.0]), "a", "b")["chair"]
    assert (e.estimate, e.low, e.high) == (0.5, 0.0, 1.0)


def test_seeds_are_resampled_when_there_are_several():
    # One object, two seeds with differences 0 and 1: the same distribution by seeds.
    diffs = {"chair": np.array([[0.0], [1.0]])}
    reps = bootstrap_replicates(diffs, samples=20000)["chair"]
    values, counts = np.unique(reps, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.015)


def test_resampling_is_stratified_by_category():
    # Category x: every difference 1 (3 objects); y: every difference 0 (7 objects).
    # Stratified, every replicate keeps both categories whole: the overall mean over
    # categories is 0.5 in every replicate.  (Pooled resampling would vary.)
    t = pd.concat([_pair([1.0] * 3, category="x"), _pair([0.0] * 7, category="y")])
    e = paired_bootstrap(t, "a", "b")["overall"]
    assert (e.estimate, e.low, e.high) == pytest.approx((0.5, 0.5, 0.5))
    assert e.n_objects == 10


def test_views_are_averaged_within_an_object_and_pairs_are_matched():
    # Object 0: view 0 diff 0.2, view 1 diff 0.4 -> 0.3; an extra view only b has is
    # ignored; the reverse pair gives the negated estimate.
    rows = [("a", 0, "c", 0, 0, 0.7), ("b", 0, "c", 0, 0, 0.5),
            ("a", 0, "c", 0, 1, 0.9), ("b", 0, "c", 0, 1, 0.5), ("b", 0, "c", 0, 2, 0.0)]
    t = _table(rows)
    assert paired_bootstrap(t, "a", "b")["c"].estimate == pytest.approx(0.3)
    assert paired_bootstrap(t, "b", "a")["c"].estimate == pytest.approx(-0.3)
    assert paired_bootstrap(t, "a", "nobody") == {}


def test_a_single_object_and_seed_gives_no_interval_and_no_verdict():
    e = paired_bootstrap(_pair([0.2]), "a", "b")["overall"]
    assert e.estimate == pytest.approx(0.2) and math.isnan(e.low) and math.isnan(e.high)
    assert verdict_word(e) == "no CI"
    assert "no verdict" in verdict("a", "b", e)


@pytest.mark.parametrize(("low", "high", "word", "phrase"), [
    (0.01, 0.05, "ahead", "`a` is ahead of `b` by 0.0300"),
    (-0.05, -0.01, "behind", "`a` is behind `b` by 0.0300"),
    (-0.01, 0.05, "tie", "tie"),
])
def test_verdict_follows_the_interval(low, high, word, phrase):
    est = 0.03 if word != "behind" else -0.03
    e = PairedEstimate(est, low, high, 20, 3)
    assert verdict_word(e) == word
    s = verdict("a", "b", e)
    assert phrase in s and "20 objects x 3 seeds" in s
