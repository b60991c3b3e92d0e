"""The timing study's variant rows (issue 22): ``softras[autodiff]`` is timed at the
base point beside ``softras``, built with ``backward="autodiff"``."""

from __future__ import annotations

from bench_softras.settings import TimingConfig
from bench_softras.studies import timing


def _config(**over):
    base = dict(renderers=("softras",), subdivisions=(1, 2), image_sizes=(16,),
                batch_sizes=(1,), sigmas=(1e-3,), base_subdivisions=1, base_image_size=16,
                base_batch=1, repeats=1, warmup=0, memory=False)
    return TimingConfig(**{**base, **over})


def test_variant_is_planned_at_the_base_point_only():
    cfg = _config()
    rows = timing.plan(cfg, ["softras", "softras[autodiff]"])
    variant = [r for r in rows if r["renderer"] == "softras[autodiff]"]
    assert len(variant) == 1
    assert (variant[0]["s"], variant[0]["image_size"], variant[0]["batch"]) == (1, 16, 1)


def test_variant_rows_are_timed_beside_their_renderer():
    df = timing.run_timing_study(_config(), progress=False)
    ad = df[df["renderer"] == "softras[autodiff]"]
    assert sorted(ad["pass"]) == sorted(timing.PASSES)
    assert (ad["time_s"] > 0).all()
    # it lists every pixel of the grown boxes: at least the adjoints' pairs
    base = df[(df["renderer"] == "softras") & (df["faces"] == 80)]
    assert ad["pairs_evaluated"].iloc[0] >= base["pairs_evaluated"].iloc[0]
    without = timing.run_timing_study(_config(renderers=("hard",)), progress=False)
    assert "softras[autodiff]" not in set(without["renderer"])
