from __future__ import annotations

import numpy as np
from monai.data import DataLoader
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Resized
from PIL import Image

from monai_tumorcls.data.dataset import FailSafeDataset


def test_failsafe_dataset_keeps_going(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((10, 12), 7, np.uint8)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    missing = tmp_path / "missing.png"
    transform = Compose([LoadImaged("image", image_only=True), EnsureChannelFirstd("image"), Resized("image", (8, 8))])
    ds = FailSafeDataset([{"image": str(p)} for p in (good, bad, missing)], transform, fallback_shape=(1, 8, 8))
    items = [ds[i] for i in range(3)]
    assert items[0]["error"] == "" and items[0]["image"].shape == (1, 8, 8)
    for item, path in zip(items[1:], (bad, missing)):
        assert item["error"].startswith(str(path)) or str(path) in item["error"]
        assert item["image"].shape == (1, 8, 8) and item["image_path"] == str(path)
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 1, 8, 8)
    assert [bool(e) for e in batch["error"]] == [False, True, True]


def test_the_readers_clear_message_wins_over_the_library_cause(tmp_path):
    from monai_tumorcls.data import FailSafeDataset, ImageReadError

    def load(item):
        try:
            try:
                raise OSError("broken data stream when reading image file")
            except OSError as lib:
                raise ImageReadError(item["image"], "truncated JPEG pixel data") from lib
        except ImageReadError as e:
            raise RuntimeError("applying transform <LoadImaged>") from e  # as MONAI wraps it

    ds = FailSafeDataset([{"image": "/in/x.jpg"}], transform=load, fallback_shape=(3, 4, 4))
    error = ds[0]["error"]
    assert "truncated JPEG pixel data" in error and "/in/x.jpg" in error and "broken data stream" not in error
