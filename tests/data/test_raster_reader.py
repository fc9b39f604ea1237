"""RasterImageReader decoding synthetic PNG/JPEG files written into tmp_path: modes, bit depths, MONAI's loaders,
EXIF orientation and the JPEGs Pillow cannot open. Unreadable files: test_raster_reader_errors.py."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from monai.data import PILReader
from monai.transforms import EnsureChannelFirstd, LoadImage, LoadImaged
from monai_tumorcls.data.readers.errors import ImageReadError
from monai_tumorcls.data.readers.png16 import decode_png16
from monai_tumorcls.data.readers.raster import RasterImageReader

from .raster_files import (
    RNG, encode_png, exif_bytes, grey_image, jpeg_beyond_pillow, png_chunk, read_image, save_image,
)


# ----------------------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("channels, mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_8bit_png_modes_values_shape_meta(tmp_path, channels, mode):
    src = RNG.integers(0, 256, size=(7, 9, channels), dtype=np.uint8)
    src = src[..., 0] if channels == 1 else src
    path = save_image(tmp_path / f"img_{mode}.png", src)
    data, meta = read_image(RasterImageReader(dtype=None), path)

    assert data.dtype == np.uint8 and data.flags.writeable
    np.testing.assert_array_equal(data, np.moveaxis(src, 0, 1))  # (W, H[, C]), PILReader convention
    assert data.shape[:2] == (9, 7)
    np.testing.assert_array_equal(meta["spatial_shape"], [9, 7])
    assert (np.isnan(meta["original_channel_dim"]) if channels == 1 else meta["original_channel_dim"] == -1)
    assert (meta["format"], meta["mode"], meta["bit_depth"]) == ("PNG", mode, 8)
    assert (meta["width"], meta["height"]) == (9, 7)
    assert meta["filename_or_obj"] == str(path)


def test_reverse_indexing_false_keeps_numpy_order_and_default_dtype_is_float32(tmp_path):
    src = RNG.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    path = save_image(tmp_path / "rgb.png", src)
    data, meta = read_image(RasterImageReader(reverse_indexing=False), path)
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, src.astype(np.float32))
    np.testing.assert_array_equal(meta["spatial_shape"], [7, 9])


def test_16bit_grey_png_keeps_16_bits(tmp_path):
    src = grey_image(dtype=np.uint16)
    path = save_image(tmp_path / "g16.png", src)
    data, meta = read_image(RasterImageReader(dtype=None), path)
    assert data.dtype == np.uint16 and meta["bit_depth"] == 16 and meta["mode"].startswith("I;16")
    np.testing.assert_array_equal(data, src.T)


@pytest.mark.parametrize("channels, mode", [(2, "LA;16"), (3, "RGB;16"), (4, "RGBA;16")])
@pytest.mark.parametrize("interlace", [False, True])
def test_16bit_colour_png_keeps_16_bits(tmp_path, channels, mode, interlace):
    src = RNG.integers(0, 65536, size=(11, 13, channels), dtype=np.uint16)
    path = tmp_path / "c16.png"
    path.write_bytes(encode_png(src, interlace=interlace))
    data, meta = read_image(RasterImageReader(dtype=None), path)
    assert data.dtype == np.uint16
    np.testing.assert_array_equal(data, np.moveaxis(src, 0, 1))
    assert (meta["mode"], meta["bit_depth"], meta["original_channel_dim"]) == (mode, 16, -1)


@pytest.mark.parametrize("interlace", [False, True])
def test_reference_encoder_and_png16_decoder_agree_with_pillow_on_8bit(interlace):
    # validates the test encoder (all five filters, Adam7) against Pillow, and decode_png16 against both
    src = RNG.integers(0, 256, size=(10, 17, 3), dtype=np.uint8)
    raw = encode_png(src, interlace=interlace)
    with Image.open(io.BytesIO(raw)) as im:
        np.testing.assert_array_equal(np.asarray(im), src)
    np.testing.assert_array_equal(decode_png16(raw), src)


def test_palette_png_becomes_rgb_or_rgba(tmp_path):
    palette = RNG.integers(0, 256, size=(4, 3), dtype=np.uint8)
    idx = RNG.integers(0, 4, size=(5, 6), dtype=np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "p.png")
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), tmp_path / "p.png")
    assert meta["mode"] == "P" and data.shape == (5, 6, 3)
    np.testing.assert_array_equal(data, palette[idx])

    im.save(tmp_path / "pt.png", transparency=2)
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), tmp_path / "pt.png")
    assert data.shape == (5, 6, 4)
    np.testing.assert_array_equal(data[..., :3], palette[idx])
    np.testing.assert_array_equal(data[..., 3], np.where(idx == 2, 0, 255))


def test_bilevel_png_becomes_0_255_grey(tmp_path):
    src = RNG.integers(0, 2, size=(4, 8)).astype(bool)
    Image.fromarray(src).save(tmp_path / "b.png")
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), tmp_path / "b.png")
    assert meta["mode"] == "1" and data.dtype == np.uint8
    np.testing.assert_array_equal(data, src * 255)


@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3), ("CMYK", 3)])
def test_jpeg_matches_pillow_decoding(tmp_path, mode, channels):
    src = RNG.integers(0, 256, size=(16, 24, len(mode)), dtype=np.uint8)
    path = tmp_path / "img.jpg"
    Image.fromarray(src[..., 0] if mode == "L" else src, mode=mode).save(path, quality=90)
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), path)
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB") if mode == "CMYK" else im)
    np.testing.assert_array_equal(data, expected)
    assert data.shape == ((16, 24) if channels == 1 else (16, 24, 3))
    assert (meta["format"], meta["mode"], meta["bit_depth"]) == ("JPEG", mode, 8)


def test_format_comes_from_magic_bytes_not_suffix(tmp_path):
    src = RNG.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    png_as_jpg = save_image(tmp_path / "really_png.JPG", src, "PNG")  # RGBA, impossible for a JPEG
    data, meta = read_image(RasterImageReader(dtype=None), png_as_jpg)
    assert meta["format"] == "PNG"
    np.testing.assert_array_equal(data, np.moveaxis(src, 0, 1))

    jpg_as_png = save_image(tmp_path / "really_jpeg.png", src[..., :3], "JPEG")
    _, meta = read_image(RasterImageReader(), jpg_as_png)
    assert meta["format"] == "JPEG"


def test_verify_suffix():
    reader = RasterImageReader()
    for name in ("a.png", "a.PNG", "b.jpg", "b.JPG", "c.jpeg", "c.JpEg", Path("d/e.png"), ["a.png", "b.jpeg"]):
        assert reader.verify_suffix(name), name
    for name in ("a.bmp", "a.nii.gz", "a.png.gz", "a.dcm", "png", ["a.png", "b.tif"]):
        assert not reader.verify_suffix(name), name


def test_several_files_stack_as_channels(tmp_path):
    a, b = grey_image(), grey_image()
    paths = [save_image(tmp_path / "a.png", a), save_image(tmp_path / "b.png", b)]
    data, meta = read_image(RasterImageReader(dtype=None), paths)
    assert data.shape == (2, 9, 7) and meta["original_channel_dim"] == 0
    np.testing.assert_array_equal(data, np.stack([a.T, b.T]))


# ----------------------------------------------------------------------------------------------- with MONAI loaders
def test_load_imaged_and_ensure_channel_first(tmp_path):
    grey = save_image(tmp_path / "grey.png", grey_image())
    rgb_src = RNG.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    rgb = save_image(tmp_path / "rgb.jpg", rgb_src, "PNG")
    load = LoadImaged(keys=["grey", "rgb"], reader=RasterImageReader())
    out = EnsureChannelFirstd(keys=["grey", "rgb"])(load({"grey": str(grey), "rgb": str(rgb)}))
    assert out["grey"].shape == (1, 9, 7) and out["rgb"].shape == (3, 9, 7)
    assert out["rgb"].dtype == torch.float32
    assert out["rgb"].meta["filename_or_obj"] == str(rgb) and out["rgb"].meta["format"] == "PNG"

    # identical to MONAI's PILReader (same axes, channels and spatial_shape)
    ref = LoadImage(reader=PILReader(), ensure_channel_first=True)(str(rgb))
    np.testing.assert_array_equal(np.asarray(out["rgb"]), np.asarray(ref))
    np.testing.assert_array_equal(out["rgb"].meta["spatial_shape"], ref.meta["spatial_shape"])


def test_load_image_raises_image_read_error_instead_of_falling_back(tmp_path):
    # LoadImage swallows exceptions from read() and tries PILReader next; ours must reach the caller
    big = save_image(tmp_path / "big.png", grey_image(20, 30))
    with pytest.raises(ImageReadError, match="max_pixels"):
        LoadImage(reader=RasterImageReader(max_pixels=100))(str(big))
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(ImageReadError, match="not a PNG or JPEG"):
        LoadImaged(keys="image", reader=RasterImageReader())({"image": str(tmp_path / "notes.png")})


def test_load_image_keeps_original_dtype_when_asked(tmp_path):
    src = grey_image(dtype=np.uint16)
    path = save_image(tmp_path / "g16.png", src)
    img = LoadImage(reader=RasterImageReader(dtype=None), dtype=None, ensure_channel_first=True)(str(path))
    assert not img.dtype.is_floating_point and img.shape == (1, 9, 7)  # MONAI's tensors hold uint16 as int32
    np.testing.assert_array_equal(img[0].numpy(), src.T)


# ----------------------------------------------------------------------------------------------- EXIF orientation
@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_gives_the_displayed_image(tmp_path, orientation, fmt):
    src = RNG.integers(0, 256, size=(6, 10), dtype=np.uint8)  # not square: a turn swaps height and width
    path = save_image(tmp_path / f"o{orientation}.{fmt.lower()}", src, fmt, exif=exif_bytes(orientation), quality=95)
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), path)
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im))  # what viewers display
    np.testing.assert_array_equal(data, shown)
    assert (meta["height"], meta["width"]) == shown.shape
    assert meta["exif_orientation"] == orientation
    if orientation in (5, 6, 7, 8):
        assert data.shape == (10, 6)


def test_exif_orientation_of_a_16bit_colour_png_and_the_opt_out(tmp_path):
    src = RNG.integers(0, 65536, size=(5, 8, 3), dtype=np.uint16)
    png = encode_png(src)
    exif_chunk = png_chunk(b"eXIf", exif_bytes(6).removeprefix(b"Exif\x00\x00"))
    path = tmp_path / "c16.png"
    path.write_bytes(png[:33] + exif_chunk + png[33:])  # after the 33-byte signature + IHDR
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), path)
    np.testing.assert_array_equal(data, np.rot90(src, -1))  # turned clockwise
    assert (meta["mode"], meta["exif_orientation"], meta["width"], meta["height"]) == ("RGB;16", 6, 5, 8)

    stored, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False, apply_exif_orientation=False), path)
    np.testing.assert_array_equal(stored, src)
    assert meta["exif_orientation"] == 6


@pytest.mark.parametrize("value", [0, 9, 300])
def test_invalid_exif_orientation_keeps_the_stored_pixels(tmp_path, value):
    src = RNG.integers(0, 256, size=(4, 7), dtype=np.uint8)
    path = save_image(tmp_path / "bad.png", src, "PNG", exif=exif_bytes(value))
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), path)
    np.testing.assert_array_equal(data, src)
    assert meta["exif_orientation"] == 1


# ----------------------------------------------------------------------------------------------- JPEGs Pillow cannot open
@pytest.mark.parametrize(
    "kind, shape, dtype, top, mode",
    [
        ("lossless", (9, 14), np.uint16, 4095, "L;12"),  # 12-bit lossless: DICOM-style exports
        ("lossless", (9, 14), np.uint16, 65535, "L;16"),
        ("lossless", (9, 14, 3), np.uint16, 4095, "RGB;12"),
        ("JPEG-LS", (9, 14), np.uint16, 65535, "L;16"),
        ("JPEG-LS", (9, 14), np.uint8, 255, "L"),
    ],
)
def test_high_bit_and_jpeg_ls_files_decode_exactly(tmp_path, kind, shape, dtype, top, mode):
    src = RNG.integers(0, top, size=shape, dtype=dtype, endpoint=True)
    path = tmp_path / "x.jpg"
    path.write_bytes(jpeg_beyond_pillow(kind, src))
    with pytest.raises(Exception):  # why this reader decodes them itself
        Image.open(path).load()
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), path)
    np.testing.assert_array_equal(data, src)
    assert (data.dtype, meta["format"], meta["mode"]) == (np.dtype(dtype), "JPEG", mode)


def test_12bit_lossy_jpeg_keeps_its_range(tmp_path):
    src = np.tile(np.linspace(0, 4095, 32).astype(np.uint16), (16, 1))  # a smooth ramp: small JPEG errors
    path = tmp_path / "ramp.jpg"
    path.write_bytes(jpeg_beyond_pillow("extended", src))
    data, meta = read_image(RasterImageReader(dtype=None, reverse_indexing=False), path)
    assert data.dtype == np.uint16 and meta["mode"] == "L;12"
    assert np.abs(data.astype(int) - src).max() < 64  # under 2 % of the 12-bit range
