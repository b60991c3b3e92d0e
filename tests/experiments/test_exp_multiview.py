"""The in-memory multi-view data set, its sampler and the loader adapter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_softras.data import MultiViewData, load_split
from bench_softras.experiments.multiview import training_views


def test_training_views_are_evenly_spaced():
    assert training_views(24).tolist() == list(range(24))
    assert training_views(1).tolist() == [0]
    assert training_views(2).tolist() == [0, 12]
    assert training_views(8).tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
    with pytest.raises(ValueError):
        training_views(25)


def test_random_batch_draws_views_from_the_allowed_set(tiny_data):
    rng = np.random.default_rng(0)
    objects, va, vb = tiny_data.random_batch(400, rng, views=[3, 7])
    assert objects.shape == va.shape == vb.shape == (400,)
    assert set(va.tolist()) == set(vb.tolist()) == {3, 7}
    classes = tiny_data.class_ids[objects]
    # a class uniformly, then an object of it
    assert 150 < (classes == "box").sum() < 250
    assert set(objects.tolist()) == set(range(len(tiny_data)))
    again = tiny_data.random_batch(400, np.random.default_rng(0), views=[3, 7])
    assert all(np.array_equal(a, b) for a, b in zip((objects, va, vb), again, strict=True))
    with pytest.raises(ValueError, match="0..23"):
        tiny_data.random_batch(2, rng, views=[24])


def test_images_at_picks_views_and_resamples(tiny_data):
    img = tiny_data.images_at(np.array([0, 1]), np.array([5, 6]))
    assert img.shape == (2, 4, 32, 32) and img.dtype == torch.float32
    assert torch.equal(img[1], torch.from_numpy(tiny_data.images[1, 6]).float() / 255)
    small = tiny_data.images_at(np.array([0]), np.array([5]), image_size=16)
    assert small.shape == (1, 4, 16, 16)
    # area resampling keeps the silhouette's mean coverage
    assert float(small[0, 3].mean()) == pytest.approx(float(img[0, 3].mean()), abs=1e-6)


def test_dataset_protocol_round_trip(tiny_data):
    images, voxels, cid = tiny_data[2]
    assert images.shape == (24, 4, 32, 32) and images.dtype == torch.float32
    assert voxels.dtype == torch.bool and cid == "ball"
    back = MultiViewData.from_dataset(tiny_data)
    assert np.array_equal(back.images, tiny_data.images)
    assert np.array_equal(back.voxels, tiny_data.voxels)
    assert back.classes == tiny_data.classes == ["box", "ball"]
    assert len(tiny_data.limit_per_class(1)) == 2


def test_malformed_data_is_rejected(tiny_data):
    with pytest.raises(ValueError, match=r"\[N, 24, 4, S, S\]"):
        MultiViewData(tiny_data.images[:, :12], tiny_data.voxels, tiny_data.class_ids)
    with pytest.raises(TypeError, match="uint8"):
        MultiViewData(tiny_data.images.astype(np.float32), tiny_data.voxels,
                      tiny_data.class_ids)
    with pytest.raises(ValueError, match="class ids"):
        MultiViewData(tiny_data.images, tiny_data.voxels, tiny_data.class_ids[:1])
    with pytest.raises(KeyError, match="chair"):
        tiny_data.indices_of("chair")


def test_load_split_reads_the_benchmark_layout(tiny_data_dir, tiny_data):
    data = load_split(tiny_data_dir, "test", ["box", "ball"])
    assert data.classes == ["box", "ball"]
    assert np.array_equal(data.voxels, tiny_data.voxels)  # our voxel convention round trip
    assert np.array_equal(data.images, tiny_data.images)
    assert len(load_split(tiny_data_dir, "train", max_per_class=1)) == 2
