"""Which DICOM series of a scanned folder are classified: :class:`SeriesSelection` and :func:`select_series`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .dicom_series import DicomSeries

__all__ = ["DEFAULT_EXCLUDE_DESCRIPTION", "SeriesSelection", "select_series"]


#: default exclusion of survey/localizer/calibration series (matched case-insensitively on SeriesDescription)
DEFAULT_EXCLUDE_DESCRIPTION = r"locali[sz]er|scout|survey|3[- ]?plane|calibration|\bcal\b|aahead"


@dataclass(frozen=True)
class SeriesSelection:
    """Which DICOM series are classified.

    A series is selected when all rules pass; otherwise the first failing rule is the skip reason.

    Args:
        modalities: accepted Modality values (upper case); None accepts any.
        description_regex: if set, SeriesDescription must match (``re.search``, case-insensitive).
        exclude_description_regex: if set, series whose SeriesDescription matches are skipped
            (default: localizer/scout/survey/calibration series).
        min_slices: minimum number of 2D images (frames) in the series.
        require_consistent_geometry: skip series whose slices cannot form one volume (different sizes,
            several orientations, several volumes at the same positions).
    """

    modalities: tuple[str, ...] | None = ("MR",)
    description_regex: str | None = None
    exclude_description_regex: str | None = DEFAULT_EXCLUDE_DESCRIPTION
    min_slices: int = 5
    require_consistent_geometry: bool = True

    def reason_to_skip(self, series: DicomSeries) -> str | None:
        """None when ``series`` is selected, else the reason (free of tag values except Modality)."""
        if self.modalities is not None:
            allowed = tuple(m.upper() for m in self.modalities)
            if series.modality not in allowed:
                shown = series.modality if series.modality.isalnum() and len(series.modality) <= 16 else "?"
                return f"modality {shown or 'missing'} not in {list(allowed)}"
        desc = series.series_description
        if self.description_regex and not re.search(self.description_regex, desc, flags=re.IGNORECASE):
            return "series description does not match description_regex"
        if self.exclude_description_regex and re.search(self.exclude_description_regex, desc, flags=re.IGNORECASE):
            return "series description matches exclude_description_regex (localizer/scout/calibration)"
        if series.n_slices < self.min_slices:
            return f"{series.n_slices} slice(s) < min_slices={self.min_slices}"
        if self.require_consistent_geometry:
            problem = series.geometry_problem()
            if problem:
                return problem
        return None

    def to_dict(self) -> dict:
        """JSON-serialisable description of the rule."""
        return {
            "modalities": list(self.modalities) if self.modalities is not None else None,
            "description_regex": self.description_regex,
            "exclude_description_regex": self.exclude_description_regex,
            "min_slices": self.min_slices,
            "require_consistent_geometry": self.require_consistent_geometry,
        }


def select_series(
    series: Iterable[DicomSeries], selection: SeriesSelection | None = None
) -> tuple[list[DicomSeries], list[tuple[DicomSeries, str]]]:
    """Split ``series`` into ``(selected, [(skipped_series, reason), ...])`` by ``selection``."""
    selection = selection or SeriesSelection()
    selected, skipped = [], []
    for s in series:
        reason = selection.reason_to_skip(s)
        if reason is None:
            selected.append(s)
        else:
            skipped.append((s, reason))
    return selected, skipped
