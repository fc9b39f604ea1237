"""Progress bars for long loops (feature caching, clinical inference, MONAI's ``CacheDataset``), shown on a terminal
only."""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

from monai.utils import optional_import

tqdm, has_tqdm = optional_import("tqdm", name="tqdm")

__all__ = ["progress_bar", "stderr_is_terminal"]

T = TypeVar("T")


def progress_bar(iterable: Iterable[T], desc: str, enabled: bool = True, total: int | None = None) -> Iterable[T]:
    """``iterable`` wrapped in a tqdm bar labelled ``desc`` when ``enabled``; tqdm leaves it out when stderr is not
    a terminal (``disable=None``), so logs and CI output get no bar lines."""
    if not (enabled and has_tqdm):
        return iterable
    return tqdm(iterable, desc=desc, total=total, disable=None, leave=False)


def stderr_is_terminal() -> bool:
    """Whether a progress bar would reach a person: tqdm writes to stderr, and a redirected stderr (a log file, CI
    output) must get no bar lines. The ``progress`` of the bundles' ``CacheDataset``, which MONAI does not decide by
    itself; ignite's ``ProgressBar`` gets ``disable: null``, tqdm's own "terminal only" rule."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())
