"""A MONAI ``ImageReader`` for 2D PNG and JPEG files that trusts the bytes, not the suffix, and fails loudly."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import PurePath

import numpy as np
from PIL import Image

from monai.config import DtypeLike, PathLike
from monai.data.image_reader import ImageReader, _copy_compatible_dict, _stack_images
from monai.utils import MetaKeys, ensure_tuple
from monai.utils import ImageMetaKey

from ..input_limits import DEFAULT_MAX_PIXELS as _DEFAULT_MAX_PIXELS
from ..input_limits import MAX_IMAGE_FILE_BYTES, read_capped
from .errors import ImageReadError
from .png16 import decode_png16
from .raster_headers import RasterHeader, describe_content, read_jpeg_header, read_png_header, sniff_raster_format

__all__ = ["RasterImageReader", "DEFAULT_MAX_PIXELS"]

DEFAULT_MAX_PIXELS = _DEFAULT_MAX_PIXELS  # the default upper bound on ``width * height`` (see input_limits)

_SUFFIXES = (".png", ".jpg", ".jpeg")
# Pillow modes decoded as they are, and the conversions applied to the others
_KEEP_MODES = {"L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I;16N"}
_CONVERT_MODES = {"1": "L", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB", "YCbCr": "RGB", "PA": "RGBA"}
_EXIF_ORIENTATION_TAG = 0x0112
# EXIF orientation value -> how stored (H, W[, C]) pixels become the image that viewers and browsers display
_DISPLAY_ORIENTATION = {
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1],  # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),  # transposed
    6: lambda a: np.rot90(a, -1),  # to be turned 90 degrees clockwise
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transversed
    8: lambda a: np.rot90(a, 1),  # to be turned 90 degrees anticlockwise
}


class RasterImageReader(ImageReader):
    """Load 2D PNG and JPEG images (8- or 16-bit; grey, grey+alpha, RGB, RGBA, palette) for ``LoadImage(d)``.

    .. code-block:: python

        LoadImaged(keys="image", reader=RasterImageReader())
        LoadImage(reader=RasterImageReader(), image_only=True)

    **Format.** The real format comes from the magic bytes, so a PNG named ``.jpg`` loads as a PNG; only Pillow's
    PNG or JPEG plugin is allowed to parse a file. ``verify_suffix`` (used for automatic reader selection)
    accepts ``.png``, ``.jpg`` and ``.jpeg`` in any case.

    **Axes and channels** follow :class:`monai.data.PILReader` (with its default ``reverse_indexing=True``):
    the array is ``(W, H)`` for single-channel images and ``(W, H, C)`` otherwise, i.e. the first spatial axis
    runs along the image width (x) and the second along its height (y), like the first two axes of the other
    MONAI readers. ``original_channel_dim`` is ``nan`` (no channel) or ``-1``, so ``EnsureChannelFirst(d)``
    gives ``(1, W, H)`` or ``(C, W, H)``. ``reverse_indexing=False`` keeps NumPy/Pillow order ``(H, W[, C])``.

    Pixel values by mode: ``L`` -> 1 channel; ``LA`` -> 2 (grey, alpha); ``RGB`` -> 3; ``RGBA`` -> 4;
    palette (``P``) -> its colours, RGB, or RGBA when the palette has transparency; bilevel (``1``) -> 0/255 grey;
    ``CMYK``/``YCbCr`` JPEG -> RGB. 16-bit PNGs keep 16 bits (grey via Pillow, colour via
    :func:`~monai_tumorcls.data.readers.png16.decode_png16`, since Pillow reduces those to 8 bits).
    1/2/4-bit grey PNGs are scaled to 0-255 by Pillow. 12- and 16-bit JPEGs (extended or lossless, e.g.
    exported from DICOM) and JPEG-LS files, which Pillow cannot open, are decoded with ``imagecodecs``
    (libjpeg-turbo, CharLS) and keep their bits (``uint16``, mode ``"L;12"``, ``"RGB;16"``...; 8-bit JPEG-LS
    gives ``uint8``, mode ``"L"``/``"RGB"``). Colour profiles are not applied.

    **EXIF orientation** (JPEG, and PNG ``eXIf``) is applied by default, so that the array is the image every
    viewer and browser displays (a photo or export turned by its Orientation tag, not by its pixels, would
    otherwise be classified on its side); ``width``/``height`` are those of the displayed image and
    ``exif_orientation`` records the tag (1 when absent or invalid). ``apply_exif_orientation=False`` keeps the
    stored pixel order, as :class:`monai.data.PILReader` does.

    **Metadata**: ``filename_or_obj``, ``format`` (``"PNG"``/``"JPEG"``, detected), ``mode`` (the file's Pillow
    mode, ``"RGB;16"``/``"RGBA;16"``/``"LA;16"`` for 16-bit colour), ``bit_depth`` (bits per sample of the
    returned values: 8 or 16), ``width``, ``height``, ``exif_orientation``, ``spatial_shape`` and
    ``original_channel_dim``.

    **Errors.** Content problems raise :class:`~monai_tumorcls.data.readers.errors.ImageReadError`
    (a ``ValueError``) whose message names the file and the problem: empty file, not a PNG/JPEG (with a guess at
    what it is), corrupt header, zero-size image, more than ``max_pixels`` pixels, corrupt or truncated pixel data.
    A missing file raises ``FileNotFoundError``. Decompression bombs are guarded explicitly: the size declared in
    the header is checked against ``max_pixels`` before Pillow sees the file, Pillow's own
    ``PIL.Image.MAX_IMAGE_PIXELS`` guard is kept (its error is reported as ``ImageReadError``; its warning is
    silenced because ``max_pixels`` has decided), and the 16-bit decoder bounds its zlib output.

    ``read`` only records the file names and ``get_data`` does the reading, checking and decoding. This is
    deliberate: ``LoadImage(reader=...)`` catches every exception raised in ``read`` and falls back to its other
    readers (e.g. ``PILReader``), which would hide the error and bypass ``max_pixels``; exceptions from
    ``get_data`` reach the caller.

    Args:
        dtype: data type of the returned array; ``None`` keeps the decoded ``uint8``/``uint16``. Note that
            ``LoadImage`` converts to its own ``dtype`` (``float32`` by default) afterwards.
        reverse_indexing: ``True`` (default, MONAI ``PILReader`` convention) returns ``(W, H[, C])``,
            ``False`` returns ``(H, W[, C])``.
        max_pixels: largest ``width * height`` accepted; ``None`` disables this check (Pillow's guard,
            which errors above ``2 * PIL.Image.MAX_IMAGE_PIXELS``, still applies to Pillow-decoded images).
        apply_exif_orientation: turn and mirror the pixels as the file's EXIF Orientation tag says.
    """

    def __init__(
        self,
        dtype: DtypeLike | None = np.float32,
        reverse_indexing: bool = True,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        apply_exif_orientation: bool = True,
    ) -> None:
        super().__init__()
        if max_pixels is not None and (not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1):
            raise ValueError(f"max_pixels must be a positive int or None, got {max_pixels!r}.")
        self.dtype = dtype
        self.reverse_indexing = reverse_indexing
        self.max_pixels = None if max_pixels is None else int(max_pixels)
        self.apply_exif_orientation = apply_exif_orientation

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether every file name ends in ``.png``, ``.jpg`` or ``.jpeg`` (any case)."""
        names = ensure_tuple(filename)
        return bool(names) and all(PurePath(os.fspath(n)).suffix.lower() in _SUFFIXES for n in names)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs) -> Sequence[str] | str:
        """Return the file name (or names, to stack as channels); reading happens in :meth:`get_data`.

        Args:
            data: file name or a sequence of file names.
            kwargs: ignored (accepted for the ``ImageReader`` interface).
        """
        names = [os.fspath(n) for n in ensure_tuple(data)]
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"{type(self).__name__} reads file paths, got {name!r}.")
        return names if len(names) > 1 else names[0]

    def get_data(self, img: Sequence[str] | str) -> tuple[np.ndarray, dict]:
        """Read, check and decode the file(s) returned by :meth:`read`.

        Several files are stacked as channels (in a new first axis when they have no channel axis), with the
        first file's metadata, as in ``PILReader``; their spatial shapes must match.

        Returns:
            the array, ``(W, H)`` or ``(W, H, C)`` (``(H, W[, C])`` without ``reverse_indexing``), and its metadata.

        Raises:
            ImageReadError: the content is not a readable PNG/JPEG within ``max_pixels``.
            FileNotFoundError: a file does not exist.
        """
        arrays: list[np.ndarray] = []
        compatible_meta: dict = {}
        for name in ensure_tuple(img):
            data, meta = self._load(os.fspath(name))
            if self.reverse_indexing:
                data = np.moveaxis(data, 0, 1)
            if self.dtype is not None:
                data = data.astype(self.dtype, copy=False)
            data = np.require(data, requirements="W")  # Pillow's arrays are read-only
            meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(data.shape[:2])
            meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan") if data.ndim == 2 else -1
            arrays.append(data)
            _copy_compatible_dict(meta, compatible_meta)
        return _stack_images(arrays, compatible_meta), compatible_meta

    def _load(self, filename: str) -> tuple[np.ndarray, dict]:
        """Decode one file to ``(H, W[, C])`` ``uint8``/``uint16`` plus its metadata."""
        raw = read_capped(filename, MAX_IMAGE_FILE_BYTES, "a 2D image file")  # regular files only, never a FIFO
        if not raw:
            raise ImageReadError(filename, "empty file (0 bytes)")
        fmt = sniff_raster_format(raw)
        if fmt is None:
            raise ImageReadError(filename, f"not a PNG or JPEG file ({describe_content(raw)})")
        try:
            header = read_png_header(raw) if fmt == "PNG" else read_jpeg_header(raw)
        except ValueError as e:
            raise ImageReadError(filename, f"corrupt {fmt} header: {e}") from e
        self._check_size(filename, header)

        if fmt == "PNG" and header.bit_depth == 16 and header.channels > 1:
            try:
                data = decode_png16(raw)
            except ValueError as e:
                raise ImageReadError(filename, f"corrupt or truncated PNG data: {e}") from e
            mode = {2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[header.channels]
        elif fmt == "JPEG" and (header.bit_depth > 8 or header.jpeg_ls):
            data, mode = _decode_beyond_pillow(filename, raw, header)
        else:
            data, mode = self._decode_with_pillow(filename, raw, fmt)
        orientation = _exif_orientation(raw, fmt)
        if self.apply_exif_orientation and orientation in _DISPLAY_ORIENTATION:
            data = np.ascontiguousarray(_DISPLAY_ORIENTATION[orientation](data))
        meta = {
            ImageMetaKey.FILENAME_OR_OBJ: filename,
            "format": fmt,
            "mode": mode,
            "bit_depth": 16 if data.dtype == np.uint16 else 8,
            "width": int(data.shape[1]),
            "height": int(data.shape[0]),
            "exif_orientation": orientation,
        }
        return data, meta

    def _check_size(self, filename: str, header: RasterHeader) -> None:
        if header.width == 0 or header.height == 0:
            raise ImageReadError(filename, f"zero-size image ({header.width} x {header.height} pixels)")
        if self.max_pixels is not None and header.num_pixels > self.max_pixels:
            raise ImageReadError(
                filename,
                f"image is {header.width} x {header.height} = {header.num_pixels} pixels, over the limit of "
                f"{self.max_pixels} (max_pixels); refusing to decode (possible decompression bomb)",
            )

    @staticmethod
    def _decode_with_pillow(filename: str, raw: bytes, fmt: str) -> tuple[np.ndarray, str]:
        try:
            with warnings.catch_warnings():
                # the size has passed max_pixels already; Pillow's DecompressionBombError still applies
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(raw), formats=(fmt,)) as im:
                    mode = im.mode
                    im.load()
                    if mode == "P":
                        target = "RGBA" if "transparency" in im.info else "RGB"
                    else:
                        target = _CONVERT_MODES.get(mode, mode)
                    if target not in _KEEP_MODES and mode != "I":
                        raise ImageReadError(filename, f"unsupported {fmt} pixel mode {mode!r}")
                    data = np.asarray(im.convert(target) if target != mode else im)
        except Image.DecompressionBombError as e:
            raise ImageReadError(
                filename, f"over Pillow's decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS): {e}"
            ) from e
        except ImageReadError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise ImageReadError(filename, f"corrupt or truncated {fmt} data: {e}") from e
        if data.dtype.kind in "iu" and data.dtype.itemsize > 1:  # I;16* (any byte order) and legacy 16-bit "I"
            data = data.astype(np.uint16)
        return data, mode


def _exif_orientation(raw: bytes, fmt: str) -> int:
    """The EXIF Orientation tag of an image (1, as stored, when absent or unreadable: a damaged EXIF block does
    not make the pixels unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size has been checked
            with Image.open(io.BytesIO(raw), formats=(fmt,)) as im:
                value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _decode_beyond_pillow(filename: str, raw: bytes, header: RasterHeader) -> tuple[np.ndarray, str]:
    """Decode a JPEG of more than 8 bits, or a JPEG-LS file, to ``(H, W[, C])`` with imagecodecs."""
    import imagecodecs  # only these rare files need it

    kind = "JPEG-LS" if header.jpeg_ls else f"{header.bit_depth}-bit JPEG"
    if raw.rfind(b"\xff\xd9") < raw.find(b"\xff\xda"):  # libjpeg fills a cut-off scan with grey, silently
        raise ImageReadError(filename, f"corrupt or truncated {kind} data: no end-of-image marker after the scan")
    try:
        data = imagecodecs.jpegls_decode(raw) if header.jpeg_ls else imagecodecs.jpeg8_decode(raw)
    except (RuntimeError, ValueError) as e:  # imagecodecs' codec errors are RuntimeErrors
        raise ImageReadError(filename, f"corrupt or truncated {kind} data: {e}") from e
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[-1] != 3):
        raise ImageReadError(filename, f"unsupported {kind} layout: decoded shape {data.shape}")
    colour = "L" if data.ndim == 2 else "RGB"
    if header.bit_depth <= 8:
        return data.astype(np.uint8, copy=False), colour
    return data.astype(np.uint16, copy=False), f"{colour};{header.bit_depth}"
