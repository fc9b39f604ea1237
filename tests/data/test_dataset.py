from __future__ import annotations

import numpy as np
import torch
from monai.data import DataLoader
from monai.transforms import Compose, EnsureChannelFirstd, EnsureTyped, LoadImaged, Resized
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


def _bundle_like_loading(checks):
    """The bundles' inference chain in small: load, the checks, resize, ImageNet normalisation per channel, plain
    tensors (``track_meta=False``), which hide a blank or tiny image from any check made after them."""
    from monai.transforms import EnsureTyped, NormalizeIntensityd

    from monai_tumorcls.data import RasterImageReader
    from monai_tumorcls.transforms import EnsureThreeChanneld

    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return Compose([LoadImaged("image", reader=RasterImageReader(reverse_indexing=False), image_only=True),
                    EnsureChannelFirstd("image"), *checks, EnsureThreeChanneld("image"), Resized("image", (32, 32)),
                    NormalizeIntensityd("image", subtrahend=mean, divisor=std), EnsureTyped("image", track_meta=False)])


def test_blank_images_are_refused_and_tiny_ones_flagged_as_read(tmp_path):
    from monai_tumorcls.data import FlagUntrustedImaged

    rng = np.random.default_rng(0)
    images = {
        "blank.png": np.full((64, 64), 200, np.uint8),  # first: its placeholder leads the batch
        "brain.png": rng.integers(0, 255, (64, 48), dtype=np.uint8),
        "one_pixel.png": np.array([[90]], np.uint8),
        "strip.png": rng.integers(0, 255, (8, 300), dtype=np.uint8),
    }
    for name, pixels in images.items():
        Image.fromarray(pixels).save(tmp_path / name)
    files = [{"image": str(tmp_path / n)} for n in images]
    flagged = FailSafeDataset(files, _bundle_like_loading([FlagUntrustedImaged("image", reject_blank=True)]), (3, 32, 32))
    batch = next(iter(DataLoader(flagged, batch_size=4)))
    assert dict(zip(images, batch["warnings"])) == {
        "blank.png": "", "brain.png": "", "one_pixel.png": "",
        "strip.png": "tiny image (8x300 px, a side below 16)",  # (H, W), as the bundles read
    }
    assert [e.replace(str(tmp_path), "") for e in batch["error"]] == [
        "/blank.png: blank image (one value): no decision", "", "/one_pixel.png: blank image (one value): no decision", ""]
    kept = FailSafeDataset(files, _bundle_like_loading([FlagUntrustedImaged("image")]), (3, 32, 32))
    assert [kept[i]["warnings"] for i in range(4)] == [
        "blank image (one value)", "", "blank image (one value); tiny image (1x1 px, a side below 16)",
        "tiny image (8x300 px, a side below 16)"]
    # what the bundles did before the check came first: the normalised channels differ, the size is lost
    unchecked = FailSafeDataset(files, _bundle_like_loading([]), (3, 32, 32))
    assert [unchecked[i]["warnings"] for i in range(4)] == [""] * 4


def test_a_batch_collates_whichever_item_fails_first(tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(np.arange(100, dtype=np.uint8).reshape(10, 10)).save(good)
    bad.write_bytes(b"not an image")
    for keep_meta in (True, False):  # MetaTensor out of the transform, or plain tensors as in the bundles
        transform = Compose([LoadImaged("image", image_only=True), EnsureChannelFirstd("image"),
                             *([] if keep_meta else [EnsureTyped("image", track_meta=False)])])
        for order in ((bad, good), (good, bad)):
            ds = FailSafeDataset([{"image": str(p)} for p in order], transform, fallback_shape=(1, 10, 10))
            batch = next(iter(DataLoader(ds, batch_size=2)))
            assert type(batch["image"]) is torch.Tensor and batch["image"].shape == (2, 1, 10, 10)
            assert [bool(e) for e in batch["error"]] == [p == bad for p in order]


def test_every_item_has_the_same_keys_whatever_happened_to_it(tmp_path):
    """A batch collates by its first item's keys: a placeholder (unreadable file, an entry never opened, an output
    skipped) leading a batch must not drop the others' fields, nor a field only some items have stop the run."""
    from itertools import permutations

    from monai.data import list_data_collate

    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(np.arange(100, dtype=np.uint8).reshape(10, 10)).save(good)
    bad.write_bytes(b"not an image")
    load = Compose([LoadImaged("image", image_only=True), EnsureChannelFirstd("image"),
                    lambda d: {**d, "added_by_a_transform": 1}])
    data = [{"image": str(good), "label": 1}, {"image": str(bad), "label": 0},
            {"image": "/in/a.jpg", "label": 0, "problem": "not a regular file (named pipe (FIFO)); not opened"},
            {"image": "/in/o.png", "label": 1, "skip": "skipped: an output of monai_tumorcls (Grad-CAM overlay)"}]
    ds = FailSafeDataset(data, load, fallback_shape=(1, 10, 10))
    items = [ds[i] for i in range(4)]
    assert {frozenset(it) for it in items} == {frozenset({"image", "image_path", "label", "error", "warnings", "skipped"})}
    assert [(bool(it["error"]), it["skipped"]) for it in items] == [
        (False, ""), (True, ""), (True, ""), (False, "/in/o.png: skipped: an output of monai_tumorcls (Grad-CAM overlay)")]
    assert items[2]["error"] == "/in/a.jpg: not a regular file (named pipe (FIFO)); not opened"
    for order in permutations(range(4)):
        batch = list_data_collate([items[i] for i in order])
        assert batch["image"].shape == (4, 1, 10, 10) and batch["label"].tolist() == [data[i]["label"] for i in order]
