"""Small PNG/JPEG files for the RasterImageReader tests: a reference PNG encoder (every scanline filter, Adam7),
headers that declare any size, files Pillow cannot open, and the read and error checks the tests share."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_tumorcls.data.readers.errors import ImageReadError
from monai_tumorcls.data.readers.raster import RasterImageReader

RNG = np.random.default_rng(1234)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_chunk(ctype: bytes, body: bytes) -> bytes:
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
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(payload)) + png_chunk(b"IEND", b"")
    )


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but carries (almost) no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00")) + png_chunk(b"IEND", b"")


def save_image(path: Path, arr: np.ndarray, fmt: str = "PNG", **kwargs) -> Path:
    Image.fromarray(arr).save(path, format=fmt, **kwargs)
    return path


def grey_image(h=7, w=9, dtype=np.uint8):
    return RNG.integers(0, np.iinfo(dtype).max, size=(h, w), dtype=dtype, endpoint=True)


def read_image(reader: RasterImageReader, path) -> tuple[np.ndarray, dict]:
    return reader.get_data(reader.read(path))


def assert_read_error(path, *fragments, reader=None):
    reader = reader or RasterImageReader()
    with pytest.raises(ImageReadError) as info:
        read_image(reader, path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.filename == str(path) and str(err).startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in err.reason, (fragment, err.reason)
    return err


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def jpeg_beyond_pillow(kind: str, src: np.ndarray) -> bytes:
    import imagecodecs

    if kind == "JPEG-LS":
        return imagecodecs.jpegls_encode(src)
    bits = 12 if src.max() < 4096 else 16
    return imagecodecs.jpeg8_encode(src, lossless=kind == "lossless", bitspersample=bits, level=95)
