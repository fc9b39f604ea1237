"""The viewer's slices: a small in-memory store of the last classified studies, so that the page can ask for one
slice at a time in its source resolution (raw intensities, for its own window/level) instead of receiving a whole
volume in the ``/predict`` answer.

The store is bounded twice: at most ``max_studies`` studies and ``max_bytes`` bytes of arrays; the least recently
used study goes first, and a study larger than ``max_bytes`` on its own is not kept at all. Studies are named by a
random id (never a path, a UID or anything from the upload) and live only in this process's memory.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["StoreLimits", "SeriesSlices", "StudyStore", "StudyLookupError", "STUDY_ID", "LAYERS", "slice_array"]

STUDY_ID = re.compile(r"^[0-9a-f]{32}$")
_SLICE_INDEX = re.compile(r"^[0-9]{1,6}$")
#: what ``GET /studies/{study}/{layer}/{series}/{k}`` can give: the slice, or its saliency map on the slice's grid
LAYERS = ("slices", "maps")


@dataclass(frozen=True)
class StoreLimits:
    """How much the store keeps: studies, and bytes of slice arrays and maps over all of them."""

    max_studies: int = 8
    max_bytes: int = 512 << 20


@dataclass
class SeriesSlices:
    """The viewer's arrays of one series: ``images`` (slice index -> (H, W) float32, the slice the network was given,
    in display orientation and original intensities) and ``maps`` (slice index -> (h, w) float32 in [0, 1] at the
    network's input size: the saliency map of a contributing slice). A slice that was not classified (no signal)
    has no image."""

    n_slices: int
    images: dict[int, np.ndarray] = field(default_factory=dict)
    maps: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.images.values()) + sum(a.nbytes for a in self.maps.values())

    def image(self, k: int) -> np.ndarray | None:
        return self.images.get(k)

    def map_at_source_size(self, k: int) -> np.ndarray | None:
        """The map of slice ``k`` resized (bilinear) onto its image's pixel grid, as the network input was resized
        from the whole slice; None when the slice has no map."""
        small, image = self.maps.get(k), self.images.get(k)
        if small is None or image is None:
            return None
        t = torch.from_numpy(np.ascontiguousarray(small))[None, None]
        if tuple(t.shape[2:]) != image.shape:
            t = F.interpolate(t, size=image.shape, mode="bilinear", align_corners=False)
        return t[0, 0].clamp(0, 1).numpy().astype(np.float32)


class StudyLookupError(LookupError):
    """A study, series or slice that is not in the store; the message says which (the page shows it)."""


class StudyStore:
    """The last classified studies (study id -> series id -> :class:`SeriesSlices`), least recently used first out;
    safe to use from several threads."""

    def __init__(self, limits: StoreLimits | None = None) -> None:
        self.limits = limits or StoreLimits()
        self._studies: OrderedDict[str, dict[str, SeriesSlices]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, series: dict[str, SeriesSlices]) -> str | None:
        """Keep ``series`` as a new study and return its id; None when it alone is over ``max_bytes`` (not kept).
        Older studies are dropped until both limits hold."""
        size = sum(s.nbytes for s in series.values())
        if size > self.limits.max_bytes:
            return None
        study_id = secrets.token_hex(16)
        with self._lock:
            self._studies[study_id] = series
            while len(self._studies) > self.limits.max_studies or self._bytes() > self.limits.max_bytes:
                self._studies.popitem(last=False)
        return study_id

    def series(self, study_id: str, series_id: str) -> SeriesSlices:
        """The series ``series_id`` of study ``study_id`` (the study becomes the most recently used).

        Raises:
            StudyLookupError: a malformed or unknown (e.g. dropped) study id, or a series not in the study.
        """
        if not STUDY_ID.match(study_id):
            raise StudyLookupError("no such study (malformed id)")
        with self._lock:
            study = self._studies.get(study_id)
            if study is None:
                raise StudyLookupError("no such study (unknown, or dropped to make room for later ones)")
            self._studies.move_to_end(study_id)
        if series_id not in study:
            raise StudyLookupError("no such series in this study")
        return study[series_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._studies)

    @property
    def nbytes(self) -> int:
        """Bytes of arrays held now (at most ``limits.max_bytes``)."""
        with self._lock:
            return self._bytes()

    def _bytes(self) -> int:  # the caller holds the lock
        return sum(s.nbytes for study in self._studies.values() for s in study.values())


def slice_array(store: StudyStore, study_id: str, series_id: str, k: str, layer: str) -> np.ndarray:
    """The (H, W) float32 array of ``layer`` (:data:`LAYERS`) of slice ``k`` (a path parameter, as text) of a
    stored series.

    Raises:
        ValueError: ``k`` is not a slice number (the caller answers 400).
        StudyLookupError: no such study, series or slice, or the slice has no image or map (404).
    """
    if not _SLICE_INDEX.match(k):
        raise ValueError(f"slice index must be a non-negative integer, got {k[:20]!r}")
    series, index = store.series(study_id, series_id), int(k)
    if index >= series.n_slices:
        raise StudyLookupError(f"no slice {index}: the series has {series.n_slices} (0 to {series.n_slices - 1})")
    array = series.image(index) if layer == "slices" else series.map_at_source_size(index)
    if array is None:
        what = "image (not classified: no signal)" if layer == "slices" else "map (not a contributing slice)"
        raise StudyLookupError(f"slice {index} has no {what}")
    return array
