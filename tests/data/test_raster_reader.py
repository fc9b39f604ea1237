"""RasterImageReader on small synthetic PNG/JPEG files written into tmp_path."""

from __future__ import annotations

import io
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from monai.data import PILReader
from monai.transforms import EnsureChannelFirstd, LoadImage, LoadImaged
from monai_tumorcls.data.readers.errors import ImageReadError
from monai_tumorcls.data.readers.png16 import decode_png16
from monai_tumorcls.data.readers.raster import DEFAULT_MAX_PIXELS, RasterImageReader

RNG = np.random.default_rng(1234)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


# ----------------------------------------------------------------------------------------------- fixture writers
def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _filter_rows(rows: np.ndarray, bpp: int, filters: tuple[int, ...]) -> bytes:
    """Reference PNG scanline filtering (vectorised; every filter predicts from the unfiltered bytes)."""
    out, prior = [], np.zeros(rows.shape[1], dtype=int)
    for y, row in enumerate(rows.astype(int)):
        ftype = filters[y % len(filters)]
        left = np.concatenate([np.zeros(bpp, int), row[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, int), prior[:-bpp]])
        if ftype == 0:
            pred = np.zeros_like(row)
        elif ftype == 1:
            pred = left
        elif ftype == 2:
            pred = prior
        elif ftype == 3:
            pred = (left + prior) // 2
        else:
            p = left + prior - upleft
            pa, pb, pc = abs(p - left), abs(p - prior), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
        out.append(bytes([ftype]) + ((row - pred) % 256).astype(np.uint8).tobytes())
        prior = row
    return b"".join(out)


def encode_png(arr: np.ndarray, interlace: bool = False, filters: tuple[int, ...] = (0, 1, 2, 3, 4)) -> bytes:
    """Encode an (H, W, C) uint8/uint16 array as PNG (C = 1, 2, 3, 4), cycling through all scanline filters."""
    if arr.ndim == 2:
        arr = arr[..., None]
    height, width, channels = arr.shape
    depth = 16 if arr.dtype == np.uint16 else 8
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    big = arr.astype(">u2" if depth == 16 else np.uint8)
    bpp = channels * depth // 8
    payload = b""
    for x0, y0, dx, dy in _ADAM7 if interlace else ((0, 0, 1, 1),):
        sub = np.ascontiguousarray(big[y0::dy, x0::dx])
        if sub.size:
            payload += _filter_rows(sub.view(np.uint8).reshape(sub.shape[0], -1), bpp, filters)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, int(interlace))
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(payload)) + _chunk(b"IEND", b"")
    )


def _png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but carries (almost) no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00")) + _chunk(b"IEND", b"")


def _save(path: Path, arr: np.ndarray, fmt: str = "PNG", **kwargs) -> Path:
    Image.fromarray(arr).save(path, format=fmt, **kwargs)
    return path


def _grey(h=7, w=9, dtype=np.uint8):
    return RNG.integers(0, np.iinfo(dtype).max, size=(h, w), dtype=dtype, endpoint=True)


def _read(reader: RasterImageReader, path) -> tuple[np.ndarray, dict]:
    return reader.get_data(reader.read(path))


# ----------------------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("channels, mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_8bit_png_modes_values_shape_meta(tmp_path, channels, mode):
    src = RNG.integers(0, 256, size=(7, 9, channels), dtype=np.uint8)
    src = src[..., 0] if channels == 1 else src
    path = _save(tmp_path / f"img_{mode}.png", src)
    data, meta = _read(RasterImageReader(dtype=None), path)

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
    path = _save(tmp_path / "rgb.png", src)
    data, meta = _read(RasterImageReader(reverse_indexing=False), path)
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, src.astype(np.float32))
    np.testing.assert_array_equal(meta["spatial_shape"], [7, 9])


def test_16bit_grey_png_keeps_16_bits(tmp_path):
    src = _grey(dtype=np.uint16)
    path = _save(tmp_path / "g16.png", src)
    data, meta = _read(RasterImageReader(dtype=None), path)
    assert data.dtype == np.uint16 and meta["bit_depth"] == 16 and meta["mode"].startswith("I;16")
    np.testing.assert_array_equal(data, src.T)


@pytest.mark.parametrize("channels, mode", [(2, "LA;16"), (3, "RGB;16"), (4, "RGBA;16")])
@pytest.mark.parametrize("interlace", [False, True])
def test_16bit_colour_png_keeps_16_bits(tmp_path, channels, mode, interlace):
    src = RNG.integers(0, 65536, size=(11, 13, channels), dtype=np.uint16)
    path = tmp_path / "c16.png"
    path.write_bytes(encode_png(src, interlace=interlace))
    data, meta = _read(RasterImageReader(dtype=None), path)
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
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), tmp_path / "p.png")
    assert meta["mode"] == "P" and data.shape == (5, 6, 3)
    np.testing.assert_array_equal(data, palette[idx])

    im.save(tmp_path / "pt.png", transparency=2)
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), tmp_path / "pt.png")
    assert data.shape == (5, 6, 4)
    np.testing.assert_array_equal(data[..., :3], palette[idx])
    np.testing.assert_array_equal(data[..., 3], np.where(idx == 2, 0, 255))


def test_bilevel_png_becomes_0_255_grey(tmp_path):
    src = RNG.integers(0, 2, size=(4, 8)).astype(bool)
    Image.fromarray(src).save(tmp_path / "b.png")
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), tmp_path / "b.png")
    assert meta["mode"] == "1" and data.dtype == np.uint8
    np.testing.assert_array_equal(data, src * 255)


@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3), ("CMYK", 3)])
def test_jpeg_matches_pillow_decoding(tmp_path, mode, channels):
    src = RNG.integers(0, 256, size=(16, 24, len(mode)), dtype=np.uint8)
    path = tmp_path / "img.jpg"
    Image.fromarray(src[..., 0] if mode == "L" else src, mode=mode).save(path, quality=90)
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), path)
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB") if mode == "CMYK" else im)
    np.testing.assert_array_equal(data, expected)
    assert data.shape == ((16, 24) if channels == 1 else (16, 24, 3))
    assert (meta["format"], meta["mode"], meta["bit_depth"]) == ("JPEG", mode, 8)


def test_format_comes_from_magic_bytes_not_suffix(tmp_path):
    src = RNG.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    png_as_jpg = _save(tmp_path / "really_png.JPG", src, "PNG")  # RGBA, impossible for a JPEG
    data, meta = _read(RasterImageReader(dtype=None), png_as_jpg)
    assert meta["format"] == "PNG"
    np.testing.assert_array_equal(data, np.moveaxis(src, 0, 1))

    jpg_as_png = _save(tmp_path / "really_jpeg.png", src[..., :3], "JPEG")
    _, meta = _read(RasterImageReader(), jpg_as_png)
    assert meta["format"] == "JPEG"


def test_verify_suffix():
    reader = RasterImageReader()
    for name in ("a.png", "a.PNG", "b.jpg", "b.JPG", "c.jpeg", "c.JpEg", Path("d/e.png"), ["a.png", "b.jpeg"]):
        assert reader.verify_suffix(name), name
    for name in ("a.bmp", "a.nii.gz", "a.png.gz", "a.dcm", "png", ["a.png", "b.tif"]):
        assert not reader.verify_suffix(name), name


def test_several_files_stack_as_channels(tmp_path):
    a, b = _grey(), _grey()
    paths = [_save(tmp_path / "a.png", a), _save(tmp_path / "b.png", b)]
    data, meta = _read(RasterImageReader(dtype=None), paths)
    assert data.shape == (2, 9, 7) and meta["original_channel_dim"] == 0
    np.testing.assert_array_equal(data, np.stack([a.T, b.T]))


# ----------------------------------------------------------------------------------------------- errors
def _assert_read_error(path, *fragments, reader=None):
    reader = reader or RasterImageReader()
    with pytest.raises(ImageReadError) as info:
        _read(reader, path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.filename == str(path) and str(err).startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in err.reason, (fragment, err.reason)
    return err


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_read_error(tmp_path / "empty.png", "empty file")


def test_non_image_files(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not an image\n")
    _assert_read_error(tmp_path / "notes.jpg", "not a PNG or JPEG", "text")
    (tmp_path / "scan.png").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)
    _assert_read_error(tmp_path / "scan.png", "not a PNG or JPEG", "DICOM")
    (tmp_path / "bin.png").write_bytes(bytes(range(256)))
    _assert_read_error(tmp_path / "bin.png", "not a PNG or JPEG")


@pytest.mark.parametrize("fmt, suffix", [("PNG", "png"), ("JPEG", "jpg")])
def test_truncated_files(tmp_path, fmt, suffix):
    full = _save(tmp_path / f"full.{suffix}", RNG.integers(0, 256, size=(64, 64, 3), dtype=np.uint8), fmt)
    raw = full.read_bytes()
    (tmp_path / f"half.{suffix}").write_bytes(raw[: len(raw) // 2])
    _assert_read_error(tmp_path / f"half.{suffix}", "truncated")
    (tmp_path / f"head.{suffix}").write_bytes(raw[:12])
    _assert_read_error(tmp_path / f"head.{suffix}", f"corrupt {fmt} header")


def test_corrupt_16bit_colour_png(tmp_path):
    raw = bytearray(encode_png(RNG.integers(0, 65536, size=(8, 8, 3), dtype=np.uint16)))
    raw[50] ^= 0xFF  # inside IDAT: the compressed data no longer checks out
    (tmp_path / "bad.png").write_bytes(bytes(raw))
    _assert_read_error(tmp_path / "bad.png", "corrupt or truncated PNG data", "IDAT")
    good = encode_png(RNG.integers(0, 65536, size=(8, 8, 3), dtype=np.uint16))
    (tmp_path / "short.png").write_bytes(good[:60])
    _assert_read_error(tmp_path / "short.png", "corrupt or truncated PNG data")


def test_zero_size_images(tmp_path):
    (tmp_path / "zero.png").write_bytes(_png_with_size(0, 5))
    _assert_read_error(tmp_path / "zero.png", "zero-size image", "0 x 5")
    raw = bytearray(_save(tmp_path / "ok.jpg", _grey(8, 8), "JPEG").read_bytes())
    sof = raw.find(b"\xff\xc0")
    raw[sof + 5 : sof + 7] = b"\x00\x00"  # frame height 0
    (tmp_path / "zero.jpg").write_bytes(bytes(raw))
    _assert_read_error(tmp_path / "zero.jpg", "zero-size image", "8 x 0")


def test_pixel_limit(tmp_path):
    path = _save(tmp_path / "big.png", _grey(20, 30))
    err = _assert_read_error(path, "600 pixels", "max_pixels", reader=RasterImageReader(max_pixels=599))
    assert "30 x 20" in err.reason
    assert _read(RasterImageReader(max_pixels=600), path)[0].shape == (30, 20)
    assert RasterImageReader().max_pixels == DEFAULT_MAX_PIXELS == 8192 * 8192
    with pytest.raises(ValueError):
        RasterImageReader(max_pixels=0)


def test_decompression_bomb_header_is_rejected_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_with_size(100_000, 100_000))  # 10 gigapixels declared, ~60 bytes
    _assert_read_error(tmp_path / "bomb.png", "max_pixels", "decompression bomb")


def test_pillow_bomb_guard_is_kept_and_its_warning_silenced(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    small = _save(tmp_path / "150px.png", _grey(10, 15))  # over Pillow's warning level, under its error level
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _read(RasterImageReader(), small)[0].shape == (15, 10)
    big = _save(tmp_path / "400px.png", _grey(20, 20))  # over 2 * MAX_IMAGE_PIXELS: Pillow refuses
    _assert_read_error(big, "MAX_IMAGE_PIXELS", reader=RasterImageReader(max_pixels=None))


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


# ----------------------------------------------------------------------------------------------- with MONAI loaders
def test_load_imaged_and_ensure_channel_first(tmp_path):
    grey = _save(tmp_path / "grey.png", _grey())
    rgb_src = RNG.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    rgb = _save(tmp_path / "rgb.jpg", rgb_src, "PNG")
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
    big = _save(tmp_path / "big.png", _grey(20, 30))
    with pytest.raises(ImageReadError, match="max_pixels"):
        LoadImage(reader=RasterImageReader(max_pixels=100))(str(big))
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(ImageReadError, match="not a PNG or JPEG"):
        LoadImaged(keys="image", reader=RasterImageReader())({"image": str(tmp_path / "notes.png")})


def test_load_image_keeps_original_dtype_when_asked(tmp_path):
    src = _grey(dtype=np.uint16)
    path = _save(tmp_path / "g16.png", src)
    img = LoadImage(reader=RasterImageReader(dtype=None), dtype=None, ensure_channel_first=True)(str(path))
    assert not img.dtype.is_floating_point and img.shape == (1, 9, 7)  # MONAI's tensors hold uint16 as int32
    np.testing.assert_array_equal(img[0].numpy(), src.T)


# ----------------------------------------------------------------------------------------------- EXIF orientation
def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_gives_the_displayed_image(tmp_path, orientation, fmt):
    src = RNG.integers(0, 256, size=(6, 10), dtype=np.uint8)  # not square: a turn swaps height and width
    path = _save(tmp_path / f"o{orientation}.{fmt.lower()}", src, fmt, exif=_exif(orientation), quality=95)
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), path)
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
    exif_chunk = _chunk(b"eXIf", _exif(6).removeprefix(b"Exif\x00\x00"))
    path = tmp_path / "c16.png"
    path.write_bytes(png[:33] + exif_chunk + png[33:])  # after the 33-byte signature + IHDR
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), path)
    np.testing.assert_array_equal(data, np.rot90(src, -1))  # turned clockwise
    assert (meta["mode"], meta["exif_orientation"], meta["width"], meta["height"]) == ("RGB;16", 6, 5, 8)

    stored, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False, apply_exif_orientation=False), path)
    np.testing.assert_array_equal(stored, src)
    assert meta["exif_orientation"] == 6


@pytest.mark.parametrize("value", [0, 9, 300])
def test_invalid_exif_orientation_keeps_the_stored_pixels(tmp_path, value):
    src = RNG.integers(0, 256, size=(4, 7), dtype=np.uint8)
    path = _save(tmp_path / "bad.png", src, "PNG", exif=_exif(value))
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), path)
    np.testing.assert_array_equal(data, src)
    assert meta["exif_orientation"] == 1


# ----------------------------------------------------------------------------------------------- JPEGs Pillow cannot open
def _jpeg_beyond_pillow(kind: str, src: np.ndarray) -> bytes:
    import imagecodecs

    if kind == "JPEG-LS":
        return imagecodecs.jpegls_encode(src)
    bits = 12 if src.max() < 4096 else 16
    return imagecodecs.jpeg8_encode(src, lossless=kind == "lossless", bitspersample=bits, level=95)


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
    path.write_bytes(_jpeg_beyond_pillow(kind, src))
    with pytest.raises(Exception):  # why this reader decodes them itself
        Image.open(path).load()
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), path)
    np.testing.assert_array_equal(data, src)
    assert (data.dtype, meta["format"], meta["mode"]) == (np.dtype(dtype), "JPEG", mode)


def test_12bit_lossy_jpeg_keeps_its_range(tmp_path):
    src = np.tile(np.linspace(0, 4095, 32).astype(np.uint16), (16, 1))  # a smooth ramp: small JPEG errors
    path = tmp_path / "ramp.jpg"
    path.write_bytes(_jpeg_beyond_pillow("extended", src))
    data, meta = _read(RasterImageReader(dtype=None, reverse_indexing=False), path)
    assert data.dtype == np.uint16 and meta["mode"] == "L;12"
    assert np.abs(data.astype(int) - src).max() < 64  # under 2 % of the 12-bit range


@pytest.mark.parametrize("kind, name", [("lossless", "12-bit JPEG"), ("JPEG-LS", "JPEG-LS")])
def test_truncated_high_bit_and_jpeg_ls_files(tmp_path, kind, name):
    raw = _jpeg_beyond_pillow(kind, RNG.integers(0, 4095, size=(32, 32), dtype=np.uint16))
    path = tmp_path / "cut.jpg"
    path.write_bytes(raw[: len(raw) // 2])
    _assert_read_error(path, f"corrupt or truncated {name} data")
