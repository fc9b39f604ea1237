"""The error every reader in :mod:`monai_tumorcls.data.readers` raises for a file whose content it cannot read."""

from __future__ import annotations

import os

__all__ = ["ImageReadError"]


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
