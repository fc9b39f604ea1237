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


def test_blank_and_tiny_images_are_flagged_not_silently_classified(tmp_path):
    from monai.transforms import ScaleIntensityd

    from monai_tumorcls.data import RasterImageReader

    rng = np.random.default_rng(0)
    images = {
        "brain.png": rng.integers(0, 255, (64, 48), dtype=np.uint8),
        "blank.png": np.full((64, 64), 200, np.uint8),
        "one_pixel.png": np.array([[90]], np.uint8),
        "strip.png": rng.integers(0, 255, (8, 300), dtype=np.uint8),
    }
    for name, pixels in images.items():
        Image.fromarray(pixels).save(tmp_path / name)
    transform = Compose([LoadImaged("image", reader=RasterImageReader(), image_only=True), EnsureChannelFirstd("image"),
                         ScaleIntensityd("image"), Resized("image", (32, 32))])
    ds = FailSafeDataset([{"image": str(tmp_path / n)} for n in images], transform, fallback_shape=(1, 32, 32))
    warnings = {n: ds[i]["warnings"] for i, n in enumerate(images)}
    assert warnings == {
        "brain.png": "",
        "blank.png": "blank image (one value)",
        "one_pixel.png": "blank image (one value); tiny image (1x1 px, a side below 16)",
        "strip.png": "tiny image (300x8 px, a side below 16)",  # the reader's (W, H) order
    }
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert list(batch["warnings"]) == list(warnings.values())
