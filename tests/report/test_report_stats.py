"""The verdict statistics against cases worked out by hand: convergence flags and the
paired, stratified bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench_softras.report.stats import (
    CONDITIONAL,
    CONDITIONAL_POOLED,
    CROSSED,
    CROSSED_POOLED,
    MIN_GAIN,
    POOLED,
    POOLED_NOTE,
    PairedEstimate,
    convergence,
    crossed_interval,
    object_bootstrap,
    paired_estimates,
    per_object_means,
    t_quantile,
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
def _by_hand(x, y):
    """Gain and margin of a window worked out from the textbook slope test."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (icpt + slope * x)
    se = np.sqrt(resid @ resid / (x.size - 2) / ((x - x.mean()) ** 2).sum())
    length = x[-1] - x[0]
    return slope * length, max(t_quantile(x.size - 2) * se * length, MIN_GAIN)


def test_a_run_still_rising_in_its_last_quarter_is_flagged():
    steps = np.arange(0, 801, 50)
    rising = 0.2 + 0.0005 * steps + 0.002 * np.sin(steps)  # gains 0.1 over steps 600..800
    c = convergence(steps, rising)
    assert c.window == (600.0, 800.0) and c.points == 5
    gain, margin = _by_hand(steps[12:], rising[12:])
    assert (c.gain, c.margin) == pytest.approx((gain, margin))
    assert c.gain == pytest.approx(0.1, abs=0.01)
    assert c.still_improving and c.label == "still improving"


def test_a_run_falling_in_its_last_quarter_is_flagged_declining():
    steps = np.arange(0, 801, 100)
    # The last quarter (600..800) holds three points: the window widens to four
    # (500..800), over which the curve falls 0.06.
    c = convergence(steps, 0.5 - 0.0002 * steps)
    assert c.window == (500.0, 800.0) and c.gain == pytest.approx(-0.06)
    assert c.still_declining and not c.still_improving and c.label == "still declining"


def test_the_same_gain_is_judged_against_the_curves_own_noise():
    # Both curves gain 0.004 over their last quarter (less than the old fixed 0.01):
    # on a smooth curve that is a real rise, on one whose points scatter by +-0.01 it
    # is not distinguishable from the noise, and with a whole rise (0.016) smaller than
    # that noise, not shown flat either: undetermined.
    steps = np.arange(0, 2401, 100)
    trend = 0.5 + 0.004 * (steps - 1800) / 600
    smooth = convergence(steps, trend)
    noisy = convergence(steps, trend + 0.01 * np.array([1, -1] * 12 + [1]))
    assert smooth.gain == pytest.approx(0.004) and smooth.label == "still improving"
    assert noisy.gain == pytest.approx(0.004, abs=0.003) and noisy.label == "undetermined"
    assert noisy.margin > abs(noisy.gain) and smooth.margin == MIN_GAIN


def test_a_gain_below_the_resolution_is_a_plateau_even_without_noise():
    steps = np.arange(0, 801, 100)
    c = convergence(steps, 0.5 + 1e-6 * steps)  # +0.0002 over the last quarter, exact line
    assert c.margin == MIN_GAIN and c.label == "plateaued"


def test_a_plateaued_run_is_not_flagged():
    steps = np.arange(0, 801, 100)
    plateau = 0.6 - 0.4 * np.exp(-steps / 80.0)  # rises fast, flat by step 600
    c = convergence(steps, plateau)
    assert abs(c.gain) < c.margin
    assert not c.still_improving and c.label == "plateaued"


def test_a_short_curve_uses_its_last_four_points_not_two():
    # A fit recorded every 30 steps: its last quarter (90..120) holds two points; the
    # window widens to the last four (30..120).
    steps, ys = [0, 30, 60, 90, 120], [0.08, 0.108, 0.112, 0.118, 0.131]
    c = convergence(steps, ys)
    assert c.window == (30.0, 120.0) and c.points == 4
    assert (c.gain, c.margin) == pytest.approx(_by_hand(steps[1:], ys[1:]))


def test_too_short_a_curve_has_no_verdict():
    assert convergence([0], [0.3]).label == "unknown"
    assert convergence([0, 5], [0.3, 0.4]).label == "unknown"
    assert math.isnan(convergence([], []).gain)


# -- paired comparisons ------------------------------------------------------------------
def test_equal_differences_collapse_the_interval_to_that_value():
    for seeds, method in (((0, 1), CONDITIONAL), ((0, 1, 2), CROSSED)):
        res = paired_estimates(_pair([0.125] * 5, seeds=seeds, views=(0, 3)), "a", "b")
        for key in ("chair", "overall"):
            e = res[key]
            assert (e.estimate, e.low, e.high) == pytest.approx((0.125, 0.125, 0.125))
            assert (e.n_objects, e.n_seeds, e.method) == (5, len(seeds), method)


def test_two_objects_have_the_known_resampling_distribution():
    # Differences 0 and 1: a resample of two objects has mean 0 (p 1/4), 1/2 (p 1/2) or
    # 1 (p 1/4), so the 2.5% and 97.5% percentiles are exactly 0 and 1.
    diffs = {"chair": np.array([[0.0, 1.0]])}
    reps = object_bootstrap(diffs, samples=20000)["chair"]
    values, n = np.unique(reps, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert n / n.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.015)
    e = paired_estimates(_pair([0.0, 1.0]), "a", "b")["chair"]
    assert (e.estimate, e.low, e.high) == (0.5, 0.0, 1.0)
    assert e.method == CONDITIONAL and verdict_word(e) == "indicative"


def test_the_conditional_bootstrap_holds_the_seeds_fixed():
    # One object, two seeds with differences 0 and 1: holding the seeds fixed, every
    # replicate is their mean (the old bootstrap resampled the seeds: 0, 1/2 or 1).
    reps = object_bootstrap({"chair": np.array([[0.0], [1.0]])}, samples=2000)["chair"]
    assert np.unique(reps).tolist() == [0.5]


def test_resampling_is_stratified_by_category():
    # Category x: every difference 1 (3 objects); y: every difference 0 (7 objects).
    # Stratified, every replicate keeps both categories whole: the overall mean over
    # categories is 0.5 in every replicate.  (Pooled resampling would vary.)
    t = pd.concat([_pair([1.0] * 3, category="x"), _pair([0.0] * 7, category="y")])
    e = paired_estimates(t, "a", "b")["overall"]
    assert (e.estimate, e.low, e.high) == pytest.approx((0.5, 0.5, 0.5))
    assert (e.n_objects, e.n_categories) == (10, 2)


def test_crossed_interval_by_hand():
    # Two categories, three seeds, two objects each.
    x = np.array([[0.1, 0.3], [0.2, 0.2], [0.0, 0.5]])
    y = np.array([[0.4, 0.0], [0.1, 0.1], [0.3, 0.2]])
    est, se, df, lo, hi = (float(v) for v in crossed_interval([x, y]))
    seed_means = (x.mean(1) + y.mean(1)) / 2
    v_seed = seed_means.var(ddof=1) / 3
    v_x, v_y = x.mean(0).var(ddof=1) / 8, y.mean(0).var(ddof=1) / 8  # / (C^2 O)
    var = v_seed + v_x + v_y
    assert est == pytest.approx((x.mean() + y.mean()) / 2)
    assert se == pytest.approx(np.sqrt(var))
    assert df == pytest.approx(var ** 2 / (v_seed ** 2 / 2 + v_x ** 2 + v_y ** 2))
    assert (lo, hi) == pytest.approx((est - t_quantile(df) * se, est + t_quantile(df) * se))


def test_three_seeds_give_the_crossed_interval_and_a_verdict():
    rng = np.random.default_rng(1)
    diffs = [[0.05 + rng.normal(0, 0.01) for _ in range(6)] for _ in range(3)]
    t = pd.concat([_pair(diffs, seeds=(0, 1, 2), category=c) for c in ("car", "chair")])
    res = paired_estimates(t, "a", "b")
    e = res["overall"]
    assert e.method == CROSSED and e.n_seeds == 3 and e.seeds == "0, 1, 2"
    d = [np.array(diffs), np.array(diffs)]
    assert (e.low, e.high) == pytest.approx(tuple(float(v) for v in crossed_interval(d)[3:]))
    assert verdict_word(e) == "ahead"
    assert "12 objects in 2 categories x 3 seeds" in verdict("a", "b", e)
    # Two seeds of the same runs: indicative, conditional on the seeds that ran.
    two = paired_estimates(t[t["seed"] < 2], "a", "b")["overall"]
    assert two.method == CONDITIONAL and verdict_word(two) == "indicative"
    s = verdict("a", "b", two)
    assert "indicative only" in s and "conditional on seeds 0, 1" in s


def test_views_are_averaged_within_an_object_and_pairs_are_matched():
    # Object 0: view 0 diff 0.2, view 1 diff 0.4 -> 0.3; an extra view only b has is
    # ignored; the reverse pair gives the negated estimate.
    rows = [("a", 0, "c", 0, 0, 0.7), ("b", 0, "c", 0, 0, 0.5),
            ("a", 0, "c", 0, 1, 0.9), ("b", 0, "c", 0, 1, 0.5), ("b", 0, "c", 0, 2, 0.0)]
    t = _table(rows)
    assert paired_estimates(t, "a", "b")["c"].estimate == pytest.approx(0.3)
    assert paired_estimates(t, "b", "a")["c"].estimate == pytest.approx(-0.3)
    assert paired_estimates(t, "a", "nobody") == {}
    assert paired_estimates(t, "a", None)["c"].estimate == pytest.approx(0.8)  # a alone
    means = per_object_means(t).set_index("renderer")
    assert means.loc["a", "voxel_iou"] == pytest.approx(0.8) and means.loc["a", "views"] == 2
    assert means.loc["b", "views"] == 3


def test_a_single_object_and_seed_gives_no_interval_and_no_verdict():
    e = paired_estimates(_pair([0.2]), "a", "b")["overall"]
    assert e.estimate == pytest.approx(0.2) and math.isnan(e.low) and math.isnan(e.high)
    assert verdict_word(e) == "no CI"
    assert "no verdict" in verdict("a", "b", e)


def test_the_counts_in_a_sentence_come_from_the_data():
    # A fitting comparison: 13 targets, one per category, one seed (the old sentence
    # said "a single object and seed").
    t = pd.concat([_pair([0.01 * k], category=f"c{k}") for k in range(13)])
    e = paired_estimates(t, "a", "b")["overall"]
    assert (e.n_objects, e.n_categories, e.n_seeds) == (13, 13, 1)
    s = verdict("a", "b", e)
    assert "13 objects in 13 categories x 1 seed" in s and "single object" not in s


def test_one_object_per_category_pools_the_categories_into_one_stratum():
    # Two categories, one object each, differences 0 and 1: stratified, nothing is
    # resampled; pooled, a resample of the two objects has mean 0, 1/2 or 1 (p 1/4,
    # 1/2, 1/4), so the percentile interval is exactly [0, 1].
    t = pd.concat([_pair([0.0], category="x"), _pair([1.0], category="y")])
    res = paired_estimates(t, "a", "b")
    e = res["overall"]
    assert (e.estimate, e.low, e.high) == (0.5, 0.0, 1.0)
    assert e.method == CONDITIONAL_POOLED and e.pooled and verdict_word(e) == "indicative"
    assert POOLED_NOTE in verdict("a", "b", e) and "conditional on seed 0" in verdict("a", "b", e)
    for cat in ("x", "y"):  # a category's own row: one object, no interval
        assert verdict_word(res[cat]) == "no CI" and not res[cat].pooled
    reps = object_bootstrap({"x": np.array([[0.0]]), "y": np.array([[1.0]])}, samples=8000)
    assert np.unique(reps[POOLED]).tolist() == [0.0, 0.5, 1.0]
    assert np.unique(reps["overall"]).tolist() == [0.5]  # stratified: no spread


def test_pooling_leaves_the_stratified_replicates_unchanged():
    # The pooled replicates are drawn after the stratified ones; with two or more
    # objects in every category there are none, and nothing changes.
    many = {"x": np.array([[0.1, 0.4, 0.2]]), "y": np.array([[0.0, 0.3]])}
    assert POOLED not in object_bootstrap(many, samples=50)
    single = {"x": np.array([[0.1]]), "y": np.array([[0.0]])}
    a, b = object_bootstrap(single, samples=50), object_bootstrap(single, samples=50)
    assert POOLED in a and all(np.array_equal(a[k], b[k]) for k in a)


def test_three_seeds_with_one_object_per_category_give_a_pooled_crossed_verdict():
    # Four categories, one object each, three seeds: the crossed interval with the
    # objects as one stratum, Var = var(seed means) / S + var(object means) / O.
    d = np.array([[0.10, 0.30, 0.20, 0.15], [0.12, 0.25, 0.22, 0.10],
                  [0.08, 0.35, 0.18, 0.12]])  # [S, O]
    t = pd.concat([_pair([[x] for x in d[:, k]], seeds=(0, 1, 2), category=f"c{k}")
                   for k in range(4)])
    e = paired_estimates(t, "a", "b")["overall"]
    v_seed, v_obj = d.mean(1).var(ddof=1) / 3, d.mean(0).var(ddof=1) / 4
    var = v_seed + v_obj
    df = var ** 2 / (v_seed ** 2 / 2 + v_obj ** 2 / 3)
    half = t_quantile(df) * np.sqrt(var)
    assert e.method == CROSSED_POOLED and e.pooled and (e.n_objects, e.n_categories) == (4, 4)
    assert (e.estimate, e.low, e.high, e.df) == pytest.approx(
        (d.mean(), d.mean() - half, d.mean() + half, df))
    assert verdict_word(e) == "ahead"
    assert POOLED_NOTE in verdict("a", "b", e) and "t interval with" in verdict("a", "b", e)


def test_a_mix_of_single_and_several_object_categories_is_not_pooled():
    t = pd.concat([_pair([0.1], category="x"), _pair([0.2, 0.4], category="y")])
    e = paired_estimates(t, "a", "b")["overall"]
    assert e.method == CONDITIONAL and not e.pooled and POOLED_NOTE not in verdict("a", "b", e)


@pytest.mark.parametrize(("low", "high", "word", "phrase"), [
    (0.01, 0.05, "ahead", "`a` is ahead of `b` by 0.0300"),
    (-0.05, -0.01, "behind", "`a` is behind `b` by 0.0300"),
    (-0.01, 0.05, "tie", "tie"),
])
def test_verdict_follows_the_interval(low, high, word, phrase):
    est = 0.03 if word != "behind" else -0.03
    e = PairedEstimate(est, low, high, 20, 3, CROSSED, 4.2)
    assert verdict_word(e) == word
    s = verdict("a", "b", e)
    assert phrase in s and "20 objects x 3 seeds, t interval with 4.2 df" in s
    assert verdict_word(PairedEstimate(est, low, high, 20, 1, CONDITIONAL)) == "indicative"


def test_a_short_run_still_rising_within_its_noise_is_undetermined_not_plateaued():
    # Five validation points of a short run (every 100 of 400 steps): the window widens
    # back to the steep early part, the fitted line's scatter is large, and a gain of
    # +0.075 IoU is within its margin; that is no evidence of a plateau.
    steps, ys = [0, 100, 200, 300, 400], [0.2211, 0.2600, 0.3232, 0.3420, 0.3418]
    c = convergence(steps, ys)
    assert not c.still_improving and c.gain > 0.05
    assert c.label == "undetermined"


def test_a_curve_that_barely_moves_is_plateaued():
    # hard: no silhouette gradient, the regularizers move the mesh by a few 1e-4 IoU.
    steps = np.arange(0, 401, 100)
    c = convergence(steps, [0.2211, 0.2206, 0.2204, 0.2203, 0.2202])
    assert abs(c.gain) < c.margin and c.label == "plateaued"
