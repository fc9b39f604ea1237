"""16-bit colour PNGs, which Pillow reduces to 8 bits, decoded by libpng through ``imagecodecs``.

Pillow keeps 16-bit *greyscale* PNGs (mode ``I;16``) but has no 16-bit colour modes, so
:class:`~monai_tumorcls.data.readers.raster.RasterImageReader` uses :func:`decode_png16` for 16-bit colour types
2 (RGB), 4 (grey+alpha) and 6 (RGBA). The pixels are decoded by ``imagecodecs.png_decode`` (libpng: all
filters, Adam7 interlacing, CRC and zlib checks). The header is checked here first, and the reader has already
checked the declared size against its ``max_pixels``, so libpng never allocates more than the header declares
within that bound (no decompression bombs).
"""

from __future__ import annotations

import numpy as np

from .raster_headers import PNG_SIGNATURE, read_png_header

__all__ = ["decode_png16"]


def decode_png16(raw: bytes) -> np.ndarray:
    """Decode a non-palette 8- or 16-bit PNG held in memory.

    Args:
        raw: the whole file.

    Returns:
        ``(H, W, C)`` array, ``uint16`` for 16-bit files (``uint8`` for 8-bit), C = 1, 2, 3 or 4 samples per pixel.

    Raises:
        ValueError: not a PNG, an unsupported bit depth / colour type, truncated or corrupt data (libpng's reason).
    """
    import imagecodecs

    if not raw.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    header = read_png_header(raw)
    if header.bit_depth not in (8, 16) or header.color_type == 3:
        raise ValueError(f"decode_png16 reads 8/16-bit non-palette PNGs, got colour type {header.color_type} "
                         f"with bit depth {header.bit_depth}")
    if not header.width or not header.height:
        raise ValueError(f"zero-size image ({header.width} x {header.height})")
    try:
        data = imagecodecs.png_decode(raw)
    except Exception as e:  # noqa: BLE001 - imagecodecs.PngError and friends
        raise ValueError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) from e
    data = np.asarray(data)
    expected = (header.height, header.width, header.channels)
    data = data.reshape(expected) if data.size == np.prod(expected) else data
    if data.shape != expected:
        raise ValueError(f"decoded shape {data.shape} differs from the header's {expected}")
    return data
