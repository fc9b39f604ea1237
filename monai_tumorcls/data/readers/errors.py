"""The error every reader in :mod:`monai_tumorcls.data.readers` raises for a file whose content it cannot read."""

from __future__ import annotations

import os

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
