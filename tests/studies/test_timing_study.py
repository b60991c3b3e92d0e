"""Unit tests of the timing study's pieces (bench_softras.studies.timing)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

import renderers
from bench_softras.report.build import (
    timing_base_table,
)
from bench_softras.settings import SMOKE
from bench_softras.studies import timing
from renderers.hard import bbox_pixel_count, scanned_pixel_count


# -- timing -------------------------------------------------------------------------------
def _brute_bbox_pixels(fv, h, w):
    total = 0
    for tri in fv.reshape(-1, 3, 3).double().numpy():
        c = (tri[:, 0] * w + w - 1) / 2
        r = (h - 1 - tri[:, 1] * h) / 2
        c0, c1 = np.clip([c.min(), c.max()], -2, w + 1)
        r0, r1 = np.clip([r.min(), r.max()], -2, h + 1)
        i0, i1 = max(0, math.ceil(r0) - 1), min(h - 1, math.floor(r1) + 1)
        j0, j1 = max(0, math.ceil(c0) - 1), min(w - 1, math.floor(c1) + 1)
        total += max(0, i1 - i0 + 1) * max(0, j1 - j0 + 1)
    return total


def test_bbox_pixels_matches_a_loop():
    fv = timing.screen_faces(1, 2)
    fv[0, :5] += 3.0  # faces off screen count nothing
    assert bbox_pixel_count(fv, 24, 40) == _brute_bbox_pixels(fv, 24, 40)


def test_pairs_evaluated_per_renderer():
    fv = timing.screen_faces(2, 3)
    dense = renderers.get("softras_torch", image_size=32, sigma=1e-4)
    assert timing.pairs_evaluated("softras_torch", dense, fv) == 3 * 320 * 32 * 32
    soft = renderers.get("softras", image_size=32, sigma=1e-4)
    sharp = renderers.get("softras", image_size=32, sigma=1e-6)
    p_soft = timing.pairs_evaluated("softras", soft, fv)
    p_sharp = timing.pairs_evaluated("softras", sharp, fv)
    assert 0 < p_sharp < p_soft < 3 * 320 * 32 * 32  # culling: fewer pairs, fewer at low sigma
    hard = renderers.get("hard", image_size=32)
    boxes = _brute_bbox_pixels(fv, 32, 32)  # every face here has area: whole rows = box
    assert scanned_pixel_count(fv, 32, 32, spans=False) == boxes
    scanned = timing.pairs_evaluated("hard", hard, fv)
    assert scanned == scanned_pixel_count(fv, 32, 32) and 0 < scanned < boxes

    class Own:
        def pairs_evaluated(self, face_vertices):
            return 7

    assert timing.pairs_evaluated("whatever", Own(), fv) == 7
    assert math.isnan(timing.pairs_evaluated("whatever", object(), fv))


def test_screen_faces_shapes_and_views():
    fv = timing.screen_faces(1, 4)
    assert fv.shape == (4, 80, 3, 3)
    assert not torch.allclose(fv[0], fv[1])  # different azimuths
    assert fv[..., 2].min() > 0  # in front of the camera


def test_plan_sweeps_one_factor_at_a_time():
    cfg = timing.TimingConfig(renderers=("softras", "hard"), subdivisions=(1, 2),
                              image_sizes=(16,), batch_sizes=(1,), sigmas=(1e-4, 1e-3),
                              base_subdivisions=1, base_image_size=16, base_batch=1)
    items = timing.plan(cfg, cfg.renderers)
    soft = [i for i in items if i["renderer"] == "softras"]
    hard = [i for i in items if i["renderer"] == "hard"]
    assert len(soft) == 2 + 1 + 1 + 2 and len(hard) == 2 + 1 + 1
    assert all(math.isnan(i["sigma"]) for i in hard)
    assert {i["sigma"] for i in soft if i["sweep"] == "sigma"} == {1e-4, 1e-3}
    assert {i["s"] for i in soft if i["sweep"] != "faces"} == {1}


def test_study_caps_dense_renderers_and_writes_tables(tmp_path):
    cfg = timing.TimingConfig(renderers=("softras_torch", "hard", "pytorch3d_soft"),
                              subdivisions=(1, 2), image_sizes=(16,), batch_sizes=(1,),
                              sigmas=(1e-4,), base_subdivisions=1, base_image_size=16,
                              base_batch=1, base_sigma=1e-4, warmup=0, repeats=1,
                              max_dense_pairs=80 * 16 * 16, memory=False)
    df = timing.run_timing_study(cfg, tmp_path, progress=False)
    assert list(df.columns) == timing.COLUMNS
    dense = df[df["renderer"] == "softras_torch"]
    assert set(dense["faces"]) == {80}  # 320 faces exceed the cap
    skipped = pd.read_csv(tmp_path / "timing_skipped.csv")
    installed = "pytorch3d_soft" in renderers.available()  # capped the same way when present
    assert list(skipped["renderer"]) == ["softras_torch"] + ["pytorch3d_soft"] * installed
    assert set(skipped["faces"]) == {320}
    assert skipped["reason"].str.contains("max_dense_pairs").all()
    fb = df[(df["renderer"] == "hard") & (df["pass"] == "forward+backward")]
    assert set(fb["faces"]) == {80, 320} and set(fb["sweep"]) == {"faces", "image_size",
                                                                  "batch"}
    row = dense[dense["pass"] == "forward"].iloc[0]
    assert row["images_per_s"] == pytest.approx(1 / row["time_s"])
    assert row["ns_per_pair"] == pytest.approx(row["time_s"] / (80 * 16 * 16) * 1e9)
    assert (tmp_path / "timing.parquet").is_file()
    base = timing_base_table(df)
    timed = {"softras_torch", "hard"} | ({"pytorch3d_soft"} if installed else set())
    assert set(base["renderer"]) == timed
    assert len(base) == 3 * (2 + installed)


def test_cost_cap_counts_each_costly_renderers_own_work():
    """``softras_torch`` and ``pytorch3d_soft`` are capped by their pixel-face pairs,
    ``mitsuba`` by its rays
    (B*H*W*spp); the others are never capped."""
    cap = 4 * 1280 * 64 * 64
    assert timing.over_cost_cap("softras_torch", 4, 1280, 64, cap) is None
    assert "over the cost cap: B*F*H*W" in timing.over_cost_cap("softras_torch", 4, 1280, 65,
                                                                cap)
    assert timing.over_cost_cap("softras", 64, 20480, 512, 1) is None
    # PyTorch3D's CPU rasterizer visits every pixel-face pair too (the name is capped
    # whether or not pytorch3d is installed: the rule needs no import).
    assert timing.over_cost_cap("pytorch3d_soft", 4, 1280, 64, cap) is None
    assert "B*F*H*W" in timing.over_cost_cap("pytorch3d_soft", 4, 1280, 65, cap)
    if "mitsuba" in renderers.available():
        spp = renderers.describe("mitsuba").defaults()["spp"]
        assert timing.over_cost_cap("mitsuba", 4, 1280, 64, 4 * 64 * 64 * spp) is None
        reason = timing.over_cost_cap("mitsuba", 4, 1280, 64, 4 * 64 * 64 * spp - 1)
        assert reason.startswith("over the cost cap: B*H*W*spp rays")


def test_unknown_renderer_in_timing_raises():
    with pytest.raises(KeyError, match="unknown renderer 'nope'"):
        timing.run_timing_study(dataclasses.replace(SMOKE.timing,
                                                    renderers=("nope",)), progress=False)


def test_peak_rss_sees_an_allocation():
    timing._malloc_trim()
    with timing.PeakRSS() as m:
        block = np.ones(64 << 20, dtype=np.uint8)  # 64 MiB, touched
        block[::4096] = 2
    assert (m.peak - m.base) / 2**20 >= 48
    del block


def test_memory_per_pass_is_reported():
    fv = timing.screen_faces(1, 2)
    r = renderers.get("softras_torch", image_size=32, sigma=1e-4)
    mem = timing.measure_memory(r, fv, torch.rand(2, 32, 32))
    assert set(mem) == set(timing.PASSES)
    assert mem["forward+backward"] >= max(mem["forward"], 0)


def test_time_passes_median():
    fv = timing.screen_faces(1, 1)
    r = renderers.get("hard", image_size=16)
    t = timing.time_passes(r, fv, torch.rand(1, 16, 16), warmup=1, repeats=3)
    assert set(t) == set(timing.PASSES) and all(v > 0 for v in t.values())


def test_timing_config_rejects_bad_values():
    with pytest.raises(ValueError, match="repeats"):
        timing.TimingConfig(repeats=0)
    with pytest.raises(ValueError, match="sigmas"):
        timing.TimingConfig(sigmas=(0.0,))
