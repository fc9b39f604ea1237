"""RasterImageReader on files it must refuse with one :class:`ImageReadError` line naming the file: empty, not an
image, truncated or corrupt, zero-size, over the pixel limit, missing."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_tumorcls.data.readers.errors import ImageReadError
from monai_tumorcls.data.readers.raster import DEFAULT_MAX_PIXELS, RasterImageReader

from .raster_files import (
    RNG, assert_read_error, encode_png, grey_image, jpeg_beyond_pillow, png_with_size, read_image, save_image,
)


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    assert_read_error(tmp_path / "empty.png", "empty file")


def test_non_image_files(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not an image\n")
    assert_read_error(tmp_path / "notes.jpg", "not a PNG or JPEG", "text")
    (tmp_path / "scan.png").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)
    assert_read_error(tmp_path / "scan.png", "not a PNG or JPEG", "DICOM")
    (tmp_path / "bin.png").write_bytes(bytes(range(256)))
    assert_read_error(tmp_path / "bin.png", "not a PNG or JPEG")


@pytest.mark.parametrize("fmt, suffix", [("PNG", "png"), ("JPEG", "jpg")])
def test_truncated_files(tmp_path, fmt, suffix):
    full = save_image(tmp_path / f"full.{suffix}", RNG.integers(0, 256, size=(64, 64, 3), dtype=np.uint8), fmt)
    raw = full.read_bytes()
    (tmp_path / f"half.{suffix}").write_bytes(raw[: len(raw) // 2])
    assert_read_error(tmp_path / f"half.{suffix}", "truncated")
    (tmp_path / f"head.{suffix}").write_bytes(raw[:12])
    assert_read_error(tmp_path / f"head.{suffix}", f"corrupt {fmt} header")


def test_corrupt_16bit_colour_png(tmp_path):
    raw = bytearray(encode_png(RNG.integers(0, 65536, size=(8, 8, 3), dtype=np.uint16)))
    raw[50] ^= 0xFF  # inside IDAT: the compressed data no longer checks out
    (tmp_path / "bad.png").write_bytes(bytes(raw))
    assert_read_error(tmp_path / "bad.png", "corrupt or truncated PNG data", "IDAT")
    good = encode_png(RNG.integers(0, 65536, size=(8, 8, 3), dtype=np.uint16))
    (tmp_path / "short.png").write_bytes(good[:60])
    assert_read_error(tmp_path / "short.png", "corrupt or truncated PNG data")


def test_zero_size_images(tmp_path):
    (tmp_path / "zero.png").write_bytes(png_with_size(0, 5))
    assert_read_error(tmp_path / "zero.png", "zero-size image", "0 x 5")
    raw = bytearray(save_image(tmp_path / "ok.jpg", grey_image(8, 8), "JPEG").read_bytes())
    sof = raw.find(b"\xff\xc0")
    raw[sof + 5 : sof + 7] = b"\x00\x00"  # frame height 0
    (tmp_path / "zero.jpg").write_bytes(bytes(raw))
    assert_read_error(tmp_path / "zero.jpg", "zero-size image", "8 x 0")


def test_pixel_limit(tmp_path):
    path = save_image(tmp_path / "big.png", grey_image(20, 30))
    err = assert_read_error(path, "600 pixels", "max_pixels", reader=RasterImageReader(max_pixels=599))
    assert "30 x 20" in err.reason
    assert read_image(RasterImageReader(max_pixels=600), path)[0].shape == (30, 20)
    assert RasterImageReader().max_pixels == DEFAULT_MAX_PIXELS == 8192 * 8192
    with pytest.raises(ValueError):
        RasterImageReader(max_pixels=0)


def test_decompression_bomb_header_is_rejected_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_with_size(100_000, 100_000))  # 10 gigapixels declared, ~60 bytes
    assert_read_error(tmp_path / "bomb.png", "max_pixels", "decompression bomb")


def test_pillow_bomb_guard_is_kept_and_its_warning_silenced(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    small = save_image(tmp_path / "150px.png", grey_image(10, 15))  # over Pillow's warning level, under its error level
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(RasterImageReader(), small)[0].shape == (15, 10)
    big = save_image(tmp_path / "400px.png", grey_image(20, 20))  # over 2 * MAX_IMAGE_PIXELS: Pillow refuses
    assert_read_error(big, "MAX_IMAGE_PIXELS", reader=RasterImageReader(max_pixels=None))


def test_missing_file_is_file_not_found(tmp_path):
    reader = RasterImageReader()
    handle = reader.read(tmp_path / "missing.png")  # read() is lazy
    with pytest.raises(FileNotFoundError):
        reader.get_data(handle)


def test_image_read_error_fields_and_pickle():
    err = ImageReadError(Path("/x/y.png"), "empty file (0 bytes)")
    assert isinstance(err, ValueError)
    assert (err.filename, err.reason) == ("/x/y.png", "empty file (0 bytes)")
    assert str(err) == "/x/y.png: empty file (0 bytes)"
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.filename, back.reason, str(back)) == (ImageReadError, err.filename, err.reason, str(err))




@pytest.mark.parametrize("kind, name", [("lossless", "12-bit JPEG"), ("JPEG-LS", "JPEG-LS")])
def test_truncated_high_bit_and_jpeg_ls_files(tmp_path, kind, name):
    raw = jpeg_beyond_pillow(kind, RNG.integers(0, 4095, size=(32, 32), dtype=np.uint16))
    path = tmp_path / "cut.jpg"
    path.write_bytes(raw[: len(raw) // 2])
    assert_read_error(path, f"corrupt or truncated {name} data")
