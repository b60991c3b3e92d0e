"""The synthetic data cache verifies content: a truncated, zeroed or bit-flipped file is
found by its recorded SHA-256 and only its category split is rebuilt."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bench_softras.data import SyntheticParams, build_synthetic, load_split, read_manifest
from bench_softras.data.cache_check import file_sha256
from bench_softras.data.synthetic import CACHE_ENV, MANIFEST

ONE = SyntheticParams(class_ids=("04379243",), num_train=1, num_val=1, num_test=1)


def _damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "zeroed":
        data = bytearray(len(data))
    else:  # one flipped bit in the compressed payload
        data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def built(tmp_path_factory, renderer):
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(root))
        d = build_synthetic(None, ONE, renderer, progress=False)
    return root, d


def test_manifest_records_a_hash_per_file(built):
    _, d = built
    m = read_manifest(d)
    assert sorted(m["sha256"]) == sorted(m["files"])
    assert all(m["sha256"][n] == file_sha256(d / n) for n in m["files"])


@pytest.mark.parametrize("how", ["truncated", "zeroed", "bitflip"])
def test_damaged_file_is_rebuilt(built, renderer, monkeypatch, how, caplog):
    root, d = built
    monkeypatch.setenv(CACHE_ENV, str(root))
    victim = d / "04379243_val_images.npz"
    good = victim.read_bytes()
    expected = load_split(d, "val").images
    untouched = d / "04379243_train_images.npz"
    mtime = untouched.stat().st_mtime_ns
    _damage(victim, how)
    assert victim.read_bytes() != good
    with caplog.at_level(logging.WARNING):
        assert build_synthetic(None, ONE, renderer, progress=False) == d
    assert victim.name in caplog.text and "SHA-256" in caplog.text
    assert np.array_equal(load_split(d, "val").images, expected)
    assert untouched.stat().st_mtime_ns == mtime  # only the damaged split was rebuilt
    assert read_manifest(d)["rebuilt"] == ["04379243_val"]


def test_manifest_without_hashes_is_rebuilt(built, renderer, monkeypatch):
    root, d = built
    monkeypatch.setenv(CACHE_ENV, str(root))
    import json

    m = read_manifest(d)
    del m["sha256"]
    (d / MANIFEST).write_text(json.dumps(m))
    build_synthetic(None, ONE, renderer, progress=False)
    assert "sha256" in read_manifest(d)
