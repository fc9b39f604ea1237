"""Format detection from magic bytes, and the PNG / JPEG header fields a reader checks before decoding.

Nothing here decodes pixels: these functions look at the first bytes of a file so that a reader can name the
real format (whatever the suffix says), reject empty, zero-size and oversized images before any decoding, and
say what a non-image file looks like.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "PNG_SIGNATURE",
    "RasterHeader",
    "sniff_raster_format",
    "describe_content",
    "read_png_header",
    "read_jpeg_header",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...); not C4 (DHT), C8 (JPG), CC (DAC)
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_LS_SOF = 0xF7  # SOF55: JPEG-LS (ISO 14495), same SOI and frame header layout
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length field
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel (3 = palette index)
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


@dataclass(frozen=True)
class RasterHeader:
    """What a PNG IHDR chunk or a JPEG start-of-frame segment declares.

    Attributes:
        format: ``"PNG"`` or ``"JPEG"`` (Pillow's format names).
        width: image width in pixels (columns).
        height: image height in pixels (rows).
        bit_depth: bits per sample (PNG: 1, 2, 4, 8 or 16; JPEG: the frame precision, usually 8).
        channels: samples per pixel as stored (a PNG palette image has 1, the index).
        color_type: the PNG colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA); ``None`` for JPEG.
        interlaced: PNG Adam7 interlacing, or JPEG progressive coding.
        jpeg_ls: a JPEG-LS file (start-of-frame SOF55) rather than JPEG (ISO 10918).
    """

    format: str
    width: int
    height: int
    bit_depth: int
    channels: int
    color_type: int | None = None
    interlaced: bool = False
    jpeg_ls: bool = False

    @property
    def num_pixels(self) -> int:
        return self.width * self.height


def sniff_raster_format(raw: bytes) -> str | None:
    """Return ``"PNG"`` or ``"JPEG"`` from the file's magic bytes, or ``None`` for anything else."""
    if raw.startswith(PNG_SIGNATURE):
        return "PNG"
    if raw.startswith(_JPEG_SOI):
        return "JPEG"
    return None


def describe_content(raw: bytes) -> str:
    """A short human description of bytes that are not PNG/JPEG, for error messages."""
    known = (
        (raw[128:132] == b"DICM", "DICOM"),
        (raw[:2] == b"\x1f\x8b", "gzip-compressed (e.g. .nii.gz)"),
        (len(raw) >= 348 and raw[344:348] in (b"n+1\x00", b"ni1\x00"), "NIfTI-1"),
        (raw[:4] in (b"II*\x00", b"MM\x00*"), "TIFF"),
        (raw[:6] in (b"GIF87a", b"GIF89a"), "GIF"),
        (raw[:2] == b"BM", "BMP"),
        (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP", "WebP"),
        (raw[:4] == b"%PDF", "PDF"),
        (raw[:4] == b"PK\x03\x04", "ZIP"),
    )
    for matched, name in known:
        if matched:
            return f"content looks like {name}"
    try:
        text = raw[:512].decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return f"content looks like text: {text[:32]!r}"
    return f"content starts with {raw[:16]!r}"


def read_png_header(raw: bytes) -> RasterHeader:
    """Parse the IHDR chunk, which the PNG specification requires to come first.

    Raises:
        ValueError: truncated or malformed IHDR, or an invalid colour type / bit depth combination.
    """
    if len(raw) < 33:
        raise ValueError(f"file ends inside the PNG header ({len(raw)} bytes)")
    length, ctype = struct.unpack(">I4s", raw[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ValueError(f"first chunk is {ctype!r} of length {length}, not a 13-byte IHDR")
    width, height, depth, color, _compression, _filter, interlace = struct.unpack(">IIBBBBB", raw[16:29])
    if color not in _PNG_DEPTHS or depth not in _PNG_DEPTHS[color]:
        raise ValueError(f"invalid PNG colour type {color} with bit depth {depth}")
    return RasterHeader("PNG", width, height, depth, _PNG_CHANNELS[color], color, interlace == 1)


def read_jpeg_header(raw: bytes) -> RasterHeader:
    """Walk the JPEG marker segments up to the first start-of-frame (SOF) segment.

    Raises:
        ValueError: the file ends or the scan starts before a SOF segment, or a segment is malformed.
    """
    pos, size = 2, len(raw)
    while True:
        while pos < size and raw[pos] != 0xFF:  # tolerate garbage between segments, as decoders do
            pos += 1
        while pos < size and raw[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise ValueError("file ends before the JPEG frame header (SOF)")
        marker = raw[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # EOI / SOS before any frame header
            raise ValueError("no JPEG frame header (SOF) before the image data")
        if pos + 2 > size:
            raise ValueError("file ends inside a JPEG segment header")
        (length,) = struct.unpack(">H", raw[pos : pos + 2])
        if length < 2:
            raise ValueError(f"invalid JPEG segment length {length}")
        if marker in _JPEG_SOF or marker == _JPEG_LS_SOF:
            if pos + 8 > size or length < 8:
                raise ValueError("file ends inside the JPEG frame header (SOF)")
            precision, height, width, components = struct.unpack(">BHHB", raw[pos + 2 : pos + 8])
            progressive = marker in (0xC2, 0xC6, 0xCA, 0xCE)
            return RasterHeader("JPEG", width, height, precision, components, None, progressive, marker == _JPEG_LS_SOF)
        pos += length
