"""Alpha stored as 0/1 instead of 0..255 is refused by the data checks, naming the file
and the expected scale (before, it passed and every IoU was meaningless: loaders divide
by 255, so every silhouette was at most 1/255)."""

from __future__ import annotations

import numpy as np
import pytest

from bench_softras.data import DatasetFileError, images_path, write_split
from bench_softras.data.checks import check_data_dir


def _split(directory, cid: str, split: str, alpha_top: int) -> None:
    images = np.zeros((2, 24, 4, 8, 8), np.uint8)
    images[:, :, 3, 2:6, 2:6] = alpha_top
    images[:, :, 3, 2, 2] = min(alpha_top, 128)  # a soft edge pixel
    images[:, :, :3] = images[:, :, 3:4] // 2
    voxels = np.zeros((2, 32, 32, 32), bool)
    voxels[:, 10:20, 10:20, 10:20] = True
    write_split(directory, cid, split, images, voxels)


def test_alpha_stored_as_0_1_is_refused_naming_the_file(tmp_path):
    for split in ("train", "val", "test"):
        _split(tmp_path, "box", split, 255)
    _split(tmp_path, "ball", "train", 255)
    _split(tmp_path, "ball", "val", 1)  # the broken one
    _split(tmp_path, "ball", "test", 255)
    bad = images_path(tmp_path, "ball", "val")
    with pytest.raises(DatasetFileError, match=rf"{bad}: the alpha channel \(channel 3\) holds "
                                               r"only 0 and 1, .* 0\.\.255"):
        check_data_dir(tmp_path)


def test_alpha_on_the_0_255_scale_passes(tmp_path):
    for split in ("train", "val", "test"):
        _split(tmp_path, "box", split, 255)
        _split(tmp_path, "ball", split, 200)  # soft, never fully 255: still the 0..255 scale
    assert check_data_dir(tmp_path) == ["ball", "box"]
