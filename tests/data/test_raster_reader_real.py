"""Integration: real Kaggle Brain Tumor MRI files through LoadImaged(RasterImageReader) + EnsureChannelFirstd +
EnsureThreeChanneld, including the files named .jpg that are really PNG (found by their magic bytes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged
from monai_tumorcls.data.readers.raster import RasterImageReader
from monai_tumorcls.transforms.channel.dictionary import EnsureThreeChanneld

pytestmark = pytest.mark.integration

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


def _pil_mode(path) -> str:
    with Image.open(path) as im:
        return im.mode


def test_real_files_load_as_three_channel_images(kaggle_root):
    files = sorted(kaggle_root.glob("*/*/*.jpg"))
    assert len(files) > 7000, f"expected the full dataset under {kaggle_root}, found {len(files)} .jpg files"
    png_named_jpg = []
    for path in files:
        with open(path, "rb") as f:
            if f.read(8) == b"\x89PNG\r\n\x1a\n":
                png_named_jpg.append(path)
    assert len(png_named_jpg) == 5, [str(p) for p in png_named_jpg]

    # two JPEGs per split and class, a greyscale JPEG, and the five PNGs (RGB, RGBA and palette among them)
    jpegs = []
    for split in ("Training", "Testing"):
        for c in CLASSES:
            jpegs += [p for p in sorted((kaggle_root / split / c).glob("*.jpg"))[:2] if p not in png_named_jpg]
    greyscale_jpeg = next(p for p in files if p not in png_named_jpg and _pil_mode(p) == "L")
    samples = jpegs + [greyscale_jpeg] + png_named_jpg

    pipeline = Compose(
        [
            LoadImaged(keys="image", reader=RasterImageReader()),
            EnsureChannelFirstd(keys="image"),
            EnsureThreeChanneld(keys="image"),
        ]
    )
    modes = set()
    for path in samples:
        img = pipeline({"image": str(path)})["image"]
        with Image.open(path) as im:
            width, height = im.size
        assert img.shape == (3, width, height), path
        assert img.dtype == torch.float32
        assert 0.0 <= float(img.min()) and float(img.max()) <= 255.0 and float(img.max()) > 0.0, path
        expected_format = "PNG" if path in png_named_jpg else "JPEG"
        assert img.meta["format"] == expected_format, path
        assert img.meta["filename_or_obj"] == str(path)
        modes.add(img.meta["mode"])
        if img.meta["mode"] == "L":  # greyscale file: EnsureThreeChannel repeated the one channel
            np.testing.assert_array_equal(img[0].numpy(), img[2].numpy())
    assert {"L", "RGB", "RGBA", "P"} <= modes, modes  # grey and colour JPEGs and the PNG oddities were exercised
