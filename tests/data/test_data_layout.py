"""The ShapeNet benchmark files: voxel orientation mapping, round trip through the
loader, and clear errors for missing or malformed files (all on files written here)."""

from __future__ import annotations

import numpy as np
import pytest

from bench_softras.data import (
    DatasetFileError,
    load_split,
    voxels_from_file,
    voxels_to_file,
    write_split,
)
from bench_softras.data.layout import images_path, voxels_path
from metrics import voxelize
from metrics.voxel_grid import voxel_centers

R = 32


def official_file_voxels(pred_xyz: np.ndarray) -> np.ndarray:
    """What the official evaluation compares a file against, written literally as in
    N3MR's / SoftRas' ``evaluate_iou``: the voxelizer's ``[B, x, y, z]`` output, then
    ``.transpose((0, 2, 1, 3))[:, :, :, ::-1]``."""
    return pred_xyz.transpose((0, 2, 1, 3))[:, :, :, ::-1]


def box(lo, hi):
    """Closed axis-aligned box mesh (vertices [8, 3], outward faces [12, 3])."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    v = lo + corners * (hi - lo)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return v, f


def tiny_images(n: int, size: int = 8, offset: int = 0) -> np.ndarray:
    """uint8 [n, 24, 4, size, size] whose pixel (0, 0) holds the object index + offset and
    pixel (0, 1) the view index, so order can be checked after loading."""
    im = np.zeros((n, 24, 4, size, size), dtype=np.uint8)
    im[:, :, :, 0, 0] = (np.arange(n) + offset)[:, None, None]
    im[:, :, :, 0, 1] = np.arange(24)[None, :, None]
    im[:, :, 3, 2:5, 2:5] = 255
    return im


def test_single_voxel_mapping():
    ours = np.zeros((R, R, R), bool)
    ours[3, 10, 5] = True
    f = voxels_to_file(ours)
    assert f[10, 3, R - 1 - 5] and f.sum() == 1
    assert np.array_equal(voxels_from_file(f), ours)
    assert np.array_equal(voxels_to_file(voxels_to_file(ours)), ours)


def test_mapping_matches_the_official_evaluation(tmp_path):
    """An off-centre box (x > 0, y > 0, z < 0): a file written as the official evaluation
    sees it loads back as our voxelization, with the box where it is in the world."""
    v, f = box((0.05, 0.1, -0.4), (0.45, 0.3, -0.1))
    ours = voxelize(v, f, R)
    assert ours.sum() > 100
    file_vox = official_file_voxels(ours[None])
    assert np.array_equal(file_vox[0], voxels_to_file(ours))
    images = tiny_images(1, 64)
    np.savez_compressed(images_path(tmp_path, "01234567", "test"), images)
    np.savez_compressed(voxels_path(tmp_path, "01234567", "test"), file_vox)
    ds = load_split(tmp_path, "test")
    assert np.array_equal(ds.voxels[0], ours)
    centres = voxel_centers(R)[ds.voxels[0]]
    assert (centres[:, 0] > 0).all() and (centres[:, 1] > 0).all() and (centres[:, 2] < 0).all()


def test_round_trip_two_categories_all_splits(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for k, cid in enumerate(["02691156", "03001627"]):
        for split, n in (("train", 3), ("val", 2), ("test", 1)):
            im = tiny_images(n, 8, offset=10 * k)
            vox = rng.random((n, R, R, R)) < 0.1
            write_split(tmp_path, cid, split, im, vox)
            written[cid, split] = (im, vox)
    for split, n in (("train", 3), ("val", 2), ("test", 1)):
        ds = load_split(tmp_path, split)
        assert ds.classes == ["02691156", "03001627"] and len(ds) == 2 * n
        assert ds.images.dtype == np.uint8 and ds.images.shape == (2 * n, 24, 4, 8, 8)
        assert ds.voxels.dtype == bool and ds.voxels.shape == (2 * n, R, R, R)
        assert list(ds.class_ids) == ["02691156"] * n + ["03001627"] * n
        for k, cid in enumerate(ds.classes):
            im, vox = written[cid, split]
            idx = ds.indices_of(cid)
            assert np.array_equal(ds.images[idx], im) and np.array_equal(ds.voxels[idx], vox)
            assert list(ds.images[idx, 0, 0, 0, 0]) == [10 * k + i for i in range(n)]
        assert list(ds.images[0, :, 0, 0, 1]) == list(range(24))  # view order kept
        fl = ds.float_images()
        assert fl.dtype == np.float32 and np.array_equal(fl * 255, ds.images.astype(np.float32))
        one = ds.float_images([0, len(ds) - 1], [5, 7])
        assert one.shape == (2, 4, 8, 8) and one[1, 0, 0, 1] == pytest.approx(7 / 255)
        assert ds.silhouettes([0], [0]).shape == (1, 8, 8)
    sub = load_split(tmp_path, "val", "03001627")
    assert sub.classes == ["03001627"] and sub.class_names == ["chair"]


def _write_pair(d, cid="03001627", split="train", images=None, voxels=None):
    images = tiny_images(2) if images is None else images
    voxels = np.ones((2, R, R, R), bool) if voxels is None else voxels
    np.savez_compressed(images_path(d, cid, split), images)
    np.savez_compressed(voxels_path(d, cid, split), voxels)


BAD_CASES = {
    "missing voxels": (lambda d: np.savez_compressed(images_path(d, "03001627", "train"),
                                                     tiny_images(2)),
                       "03001627_train_voxels.npz", "not found"),
    "not a zip": (lambda d: (_write_pair(d), images_path(d, "03001627", "train")
                             .write_bytes(b"garbage")),
                  "03001627_train_images.npz", "not a .npz archive"),
    "wrong key": (lambda d: (_write_pair(d), np.savez_compressed(
        voxels_path(d, "03001627", "train"), voxels=np.zeros((2, R, R, R), bool))),
        "03001627_train_voxels.npz", "arr_0"),
    "images float": (lambda d: _write_pair(d, images=tiny_images(2).astype(np.float32)),
                     "03001627_train_images.npz", "uint8"),
    "images 3 channels": (lambda d: _write_pair(d, images=tiny_images(2)[:, :, :3]),
                          "03001627_train_images.npz", r"\[N, 24, 4, S, S\]"),
    "images 12 views": (lambda d: _write_pair(d, images=tiny_images(2)[:, :12]),
                        "03001627_train_images.npz", r"\[N, 24, 4, S, S\]"),
    "voxels int32": (lambda d: _write_pair(d, voxels=np.zeros((2, R, R, R), np.int32)),
                     "03001627_train_voxels.npz", "bool or uint8"),
    "voxels uint8 not 0/1": (lambda d: _write_pair(d, voxels=np.full((2, R, R, R), 2,
                                                                     np.uint8)),
                             "03001627_train_voxels.npz", "0 or 1"),
    "voxels not cubic": (lambda d: _write_pair(d, voxels=np.zeros((2, R, R, 16), bool)),
                         "03001627_train_voxels.npz", r"\[N, R, R, R\]"),
    "object counts differ": (lambda d: _write_pair(d, voxels=np.ones((3, R, R, R), bool)),
                             "03001627_train_voxels.npz", "3 objects"),
    "text file named .npz": (lambda d: (_write_pair(d), images_path(d, "03001627", "train")
                                        .write_text("images go here\n")),
                             "03001627_train_images.npz", "not a .npz archive"),
    "object array": (lambda d: (_write_pair(d), np.savez_compressed(
        voxels_path(d, "03001627", "train"), np.array([{"a": 1}], dtype=object))),
        "03001627_train_voxels.npz", "pickled"),
    "all silhouettes empty": (lambda d: _write_pair(d, images=np.zeros((2, 24, 4, 8, 8),
                                                                       np.uint8)),
                              "03001627_train_images.npz", "every silhouette"),
    "all voxels empty": (lambda d: _write_pair(d, voxels=np.zeros((2, R, R, R), bool)),
                         "03001627_train_voxels.npz", "every voxel grid is empty"),
    "empty": (lambda d: _write_pair(d, images=tiny_images(0), voxels=np.zeros((0, R, R, R),
                                                                              bool)),
              "03001627_train_images.npz", "no objects"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_files_fail_naming_the_file(tmp_path, case):
    make, filename, what = BAD_CASES[case]
    make(tmp_path)
    with pytest.raises(DatasetFileError, match=what) as err:
        load_split(tmp_path, "train", ["03001627"])
    assert filename in str(err.value)
    assert "allow_pickle" not in str(err.value)


def test_missing_category_and_empty_directory(tmp_path):
    _write_pair(tmp_path)
    with pytest.raises(DatasetFileError, match="02691156_train_images.npz"):
        load_split(tmp_path, "train", ["03001627", "02691156"])
    with pytest.raises(DatasetFileError, match="no '{class_id}_val_images.npz' files"):
        load_split(tmp_path, "val")
    with pytest.raises(DatasetFileError, match="not found"):
        load_split(tmp_path / "nope")
    with pytest.raises(ValueError, match="split"):
        load_split(tmp_path, "training")


def test_write_split_rejects_bad_class_ids(tmp_path):
    with pytest.raises(ValueError, match="file name"):
        write_split(tmp_path, "my_cat", "train", tiny_images(1), np.ones((1, R, R, R), bool))
