"""The error every reader in :mod:`monai_tumorcls.data.readers` raises for a file whose content it cannot read."""

from __future__ import annotations

import os

from ..input_limits import DEFAULT_MAX_VOXELS as _DEFAULT_MAX_VOXELS

__all__ = ["ImageReadError", "DeferredReadError", "raise_if_deferred"]


class ImageReadError(ValueError):
    """A file's bytes are not a readable image: corrupt, truncated, empty, the wrong format, too large, ...

    Args:
        filename: the file that could not be read.
        reason: what is wrong with it, e.g. ``"empty file (0 bytes)"``.

    The message is ``"<filename>: <reason>"``.
    """

    def __init__(self, filename: str | os.PathLike, reason: str) -> None:
        self.filename = os.fspath(filename) if isinstance(filename, (str, os.PathLike)) else str(filename)
        self.reason = reason
        super().__init__(f"{self.filename}: {reason}")

    def __reduce__(self):  # keep both fields when pickled (multiprocessing data loaders)
        return self.__class__, (self.filename, self.reason)


class DeferredReadError:
    """What a reader's ``read()`` returns instead of raising :class:`ImageReadError`.

    ``monai.transforms.LoadImage`` treats an exception from ``read()`` as "this reader cannot read the file", tries
    its other readers and ends with a generic "cannot find a suitable reader" error that hides the problem. Returning
    this object from ``read()`` and raising the error from ``get_data()`` (:func:`raise_if_deferred`) makes
    ``LoadImage`` report the file and what is wrong with it.
    """

    def __init__(self, error: ImageReadError) -> None:
        self.error = error


def raise_if_deferred(img) -> None:
    """Raise the :class:`ImageReadError` held by a :class:`DeferredReadError` returned by ``read()``."""
    if isinstance(img, DeferredReadError):
        raise img.error


# the default upper bound on the voxels a volume may declare, checked from the header before any voxel is decoded (a
# small file declaring a huge volume is refused); with the other caps of the readers in input_limits
DEFAULT_MAX_VOXELS = _DEFAULT_MAX_VOXELS


def check_declared_size(filename, shape, max_voxels: int | None) -> None:
    """Raise :class:`ImageReadError` when ``shape`` holds more than ``max_voxels`` voxels (``None``: no limit)."""
    n = 1
    for s in shape:
        n *= int(s)
    if max_voxels is not None and n > max_voxels:
        raise ImageReadError(filename, f"declares {'x'.join(str(int(s)) for s in shape)} = {n:,} voxels, more than "
                                       f"max_voxels={max_voxels:,}")
