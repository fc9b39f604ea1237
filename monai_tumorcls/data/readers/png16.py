"""A small decoder for 16-bit PNGs, because Pillow reduces 16-bit RGB, RGBA and grey+alpha PNGs to 8 bits.

Pillow keeps 16-bit *greyscale* PNGs (mode ``I;16``) but has no 16-bit colour modes, so
:class:`~monai_tumorcls.data.readers.raster.RasterImageReader` uses :func:`decode_png16` for 16-bit colour types
2 (RGB), 4 (grey+alpha) and 6 (RGBA). It handles all five scanline filters and Adam7 interlacing, checks chunk
CRCs and bounds the zlib output to the size the header declares (no decompression bombs). Ancillary chunks
(gamma, ICC profiles, ``tRNS`` colour keys, ...) are ignored. The Average and Paeth filters are decoded in pure
Python, about a second for a 512 x 512 RGB image; other images use Pillow's C decoder.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .raster_headers import PNG_SIGNATURE, read_png_header

__all__ = ["decode_png16"]

# Adam7 passes: (x0, y0, dx, dy)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def decode_png16(raw: bytes) -> np.ndarray:
    """Decode a non-palette 8- or 16-bit PNG held in memory.

    Args:
        raw: the whole file.

    Returns:
        ``(H, W, C)`` array, ``uint16`` for 16-bit files (``uint8`` for 8-bit), C = 1, 2, 3 or 4 samples per pixel.

    Raises:
        ValueError: not a PNG, an unsupported bit depth / colour type, a CRC mismatch, truncated or corrupt data.
    """
    if not raw.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    header = read_png_header(raw)
    if header.bit_depth not in (8, 16) or header.color_type == 3:
        raise ValueError(f"decode_png16 reads 8/16-bit non-palette PNGs, got colour type {header.color_type} "
                         f"with bit depth {header.bit_depth}")
    width, height, channels = header.width, header.height, header.channels
    if not width or not height:
        raise ValueError(f"zero-size image ({width} x {height})")
    bpp = channels * header.bit_depth // 8  # bytes per pixel
    passes = _ADAM7 if header.interlaced else ((0, 0, 1, 1),)
    shapes = [((height - y0 + dy - 1) // dy, (width - x0 + dx - 1) // dx) for x0, y0, dx, dy in passes]
    expected = sum(h * (1 + w * bpp) for h, w in shapes if h and w)

    stream = zlib.decompressobj()
    try:
        data = stream.decompress(_idat_payload(raw), expected)
    except zlib.error as e:
        raise ValueError(f"corrupt compressed image data ({e})") from e
    if len(data) < expected:
        raise ValueError(f"image data is truncated ({len(data)} of {expected} bytes)")

    sample = np.dtype(">u2") if header.bit_depth == 16 else np.dtype(np.uint8)
    out = np.empty((height, width, channels), dtype=sample.newbyteorder("="))
    offset = 0
    for (x0, y0, dx, dy), (ph, pw) in zip(passes, shapes):
        if not ph or not pw:
            continue
        rows = _unfilter(data, offset, ph, pw * bpp, bpp)
        offset += ph * (1 + pw * bpp)
        out[y0::dy, x0::dx] = rows.view(sample).reshape(ph, pw, channels)
    return out


def _idat_payload(raw: bytes) -> bytes:
    """Concatenate the IDAT chunks, checking every chunk's length and CRC up to IEND (or the end of the file)."""
    pos, size, idat = len(PNG_SIGNATURE), len(raw), []
    while pos < size:
        if pos + 12 > size:
            raise ValueError("file ends inside a chunk header")
        length, ctype = struct.unpack(">I4s", raw[pos : pos + 8])
        end = pos + 12 + length
        if end > size:
            raise ValueError(f"file ends inside the {ctype.decode('latin-1')!r} chunk")
        body = raw[pos + 8 : pos + 8 + length]
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != struct.unpack(">I", raw[end - 4 : end])[0]:
            raise ValueError(f"CRC mismatch in the {ctype.decode('latin-1')!r} chunk")
        if ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
        pos = end
    if not idat:
        raise ValueError("no image data (IDAT) chunk")
    return b"".join(idat)


def _unfilter(data: bytes, offset: int, height: int, row_bytes: int, bpp: int) -> np.ndarray:
    """Undo the per-scanline PNG filters of one (sub-)image; returns ``(height, row_bytes)`` uint8."""
    block = np.frombuffer(data, dtype=np.uint8, count=height * (row_bytes + 1), offset=offset)
    block = block.reshape(height, row_bytes + 1)
    out = np.empty((height, row_bytes), dtype=np.uint8)
    prior = np.zeros(row_bytes, dtype=np.uint8)
    for y in range(height):
        ftype, line = int(block[y, 0]), block[y, 1:]
        if ftype == 0:  # None
            out[y] = line
        elif ftype == 1:  # Sub: running sum (mod 256) along each byte lane of the pixel
            out[y] = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif ftype == 2:  # Up
            out[y] = line + prior
        elif ftype in (3, 4):  # Average, Paeth: sequential within the row
            out[y] = np.frombuffer(_unfilter_sequential(ftype, line.tobytes(), prior.tobytes(), bpp), np.uint8)
        else:
            raise ValueError(f"invalid filter type {ftype} in scanline {y}")
        prior = out[y]
    return out


def _unfilter_sequential(ftype: int, line: bytes, prior: bytes, bpp: int) -> bytearray:
    cur = bytearray(line)
    if ftype == 3:
        for i in range(len(cur)):
            left = cur[i - bpp] if i >= bpp else 0
            cur[i] = (cur[i] + ((left + prior[i]) >> 1)) & 0xFF
        return cur
    for i in range(len(cur)):
        if i >= bpp:
            a, b, c = cur[i - bpp], prior[i], prior[i - bpp]
        else:
            a, b, c = 0, prior[i], 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return cur
