"""What a clinical run records: the per-input, per-series and per-slice records (written by
:mod:`~monai_tumorcls.apps.clinical.writers`).

Privacy: the records hold no DICOM tag values except Modality, no UIDs, no series descriptions, and (unless the run
has ``record_paths=True``) no paths of what was read (a series' ``description`` is kept in memory for the web app's
series list and never written): files are named by ``file_id``, series by an opaque
``series_id``. A skipped file or folder, which was not read, is named by its path relative to its input, so that
it can be found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .aggregation import SeriesDecision
from .lesion import SeriesLesion

__all__ = ["file_id", "RunIssue", "SliceEvidence", "SliceRecord", "SeriesResult", "InputResult", "ClinicalRunResult",
           "ImageRunResult", "SCHEMA_VERSION"]


def file_id(sha256_hex: str) -> str:
    """A file's name in a run's records: ``f-`` and the first 16 hex digits of the SHA-256 of its bytes (an
    opaque id: no path or tag value)."""
    return "f-" + sha256_hex[:16]


#: version of the clinical report's layout (raised when a field moves or goes)
SCHEMA_VERSION = 2


@dataclass
class RunIssue:
    """An input, file or series that was not classified.

    Attributes:
        input_index: index of the input in ``inputs``.
        item: what it concerns: ``"input"``, ``"file f-…"``, ``"series s-…"`` or ``"volume v-…"``.
        reason: why (no tag values, no paths).
        path: the path relative to the input folder: always for a skipped file or folder, for an error only with
            ``record_paths=True``.
    """

    input_index: int
    item: str
    reason: str
    path: str | None = None

    def to_dict(self) -> dict:
        d = {"input_index": self.input_index, "item": self.item, "reason": self.reason}
        if self.path is not None:
            d["path"] = self.path
        return d


@dataclass
class SliceEvidence:
    """A contributing slice as the DICOM secondary capture and the app's viewer show it (kept in memory only,
    never serialised): ``image``, the display-oriented (H, W) slice on the grid of the volume as read (a slice that
    is not resliced has the pixels of its source frame, a resliced one those of the resliced volume), and
    ``saliency``, its saliency map in [0, 1] on the same grid (the network-size map put back through the
    slicing's padding and resampling, not taken from the overlay PNG); ``slice_saliency``: the map on the grid of
    the slice the preprocessing was given (after that resampling and padding), as the viewer shows it."""

    image: np.ndarray
    saliency: np.ndarray
    slice_saliency: np.ndarray


@dataclass
class SliceRecord:
    """One emitted slice of a series (row of the CSV). ``warnings``: why its prediction should not be trusted
    (:func:`~monai_tumorcls.data.image_checks.image_warnings`: blank, or tiny as read). The ``lesion_*`` fields
    (a network with a lesion head only, else None and not written): the predicted lesion's area in pixels of the
    slice as read and in mm² (None when the pixel spacing is unknown), and the lesion map's peak (row, col as
    fractions of the slice; its probability)."""

    slice_index: int
    position_mm: float
    excluded: bool
    exclusion_reason: str
    foreground_fraction: float
    tumour_probability: float | None
    probabilities: dict[str, float] | None
    contributing: bool
    source_file_id: str | None
    source_frame: int | None
    source_instance_number: int | None
    source_path: str | None = None
    saliency_peak: dict[str, float] | None = None
    saliency_file: str | None = None
    warnings: list[str] = field(default_factory=list)
    lesion_area_px: int | None = None
    lesion_area_mm2: float | None = None
    lesion_peak: dict[str, float] | None = None
    evidence: SliceEvidence | None = field(default=None, repr=False)

    def to_dict(self, with_path: bool) -> dict:
        d = {
            "slice_index": self.slice_index,
            "position_mm": self.position_mm,
            "excluded": self.excluded,
            "exclusion_reason": self.exclusion_reason,
            "foreground_fraction": self.foreground_fraction,
            "tumour_probability": self.tumour_probability,
            "probabilities": self.probabilities,
            "contributing": self.contributing,
            "source_file_id": self.source_file_id,
            "source_frame": self.source_frame,
            "source_instance_number": self.source_instance_number,
            "warnings": self.warnings,
        }
        if with_path:
            d["source_path"] = self.source_path
        if self.saliency_file is not None:
            d["saliency_peak"], d["saliency_file"] = self.saliency_peak, self.saliency_file
        if self.lesion_area_px is not None:
            d.update(lesion_area_px=self.lesion_area_px, lesion_area_mm2=self.lesion_area_mm2,
                     lesion_peak=self.lesion_peak)
        return d


@dataclass
class SeriesResult:
    """Result for one DICOM series or NIfTI volume. ``notes``: how it was read and cut; ``warnings``: why its
    decision should be weighed with care (e.g. a model not validated on volumes); ``lesion``: the predicted lesion
    (a network with a lesion head only); ``description``: what a reader calls the series (its SeriesDescription, or
    the NIfTI file's name), in memory only: :meth:`to_dict` leaves it out."""

    series_index: int
    series_id: str
    input_index: int
    source: str
    modality: str
    slice_plane: str
    acquisition_plane: str
    resliced: bool
    obliquity_deg: float
    ordering: str
    volume_shape: list[int]
    voxel_spacing_mm: list[float]
    pixel_spacing_mm: list[float]
    n_slices: int
    n_excluded_slices: int
    decision: SeriesDecision
    slices: list[SliceRecord]
    file_ids: list[str]
    notes: list[str] = field(default_factory=list)
    files: list[str] | None = None
    warnings: list[str] = field(default_factory=list)
    lesion: SeriesLesion | None = None
    description: str = field(default="", repr=False)

    @property
    def tumour_probabilities(self) -> list[float | None]:
        """Per-slice tumour probability in slice order (None for excluded slices)."""
        return [s.tumour_probability for s in self.slices]

    def to_dict(self, with_path: bool) -> dict:
        d = {
            "series_index": self.series_index,
            "series_id": self.series_id,
            "input_index": self.input_index,
            "source": self.source,
            "modality": self.modality,
            "slice_plane": self.slice_plane,
            "acquisition_plane": self.acquisition_plane,
            "resliced": self.resliced,
            "obliquity_deg": self.obliquity_deg,
            "ordering": self.ordering,
            "volume_shape": self.volume_shape,
            "voxel_spacing_mm": self.voxel_spacing_mm,
            "pixel_spacing_mm": self.pixel_spacing_mm,
            "n_slices": self.n_slices,
            "n_excluded_slices": self.n_excluded_slices,
            "decision": self.decision.to_dict(),
            "notes": self.notes,
            "warnings": self.warnings,
            "provenance": {"n_files": len(self.file_ids), "file_ids": self.file_ids},
            "slices": [s.to_dict(with_path) for s in self.slices],
        }
        if with_path:
            d["provenance"]["files"] = self.files
        if self.lesion is not None:
            d["lesion"] = self.lesion.to_dict()
        return d


@dataclass
class InputResult:
    """What :meth:`~monai_tumorcls.apps.clinical.ClinicalInferer.classify_input` found in one input (file or folder).

    Attributes:
        record: the input's summary (``input_index``, ``kind``, ``n_series_classified`` (series with a decision),
            ``n_errors``, ``status``: ``failed`` when no series got a decision, e.g. from a broken model).
        series: classified series/volumes (``series_index`` counts within this input).
        skipped: items deliberately not classified (non-image files, series not selected).
        errors: items that failed.
    """

    record: dict
    series: list[SeriesResult] = field(default_factory=list)
    skipped: list[RunIssue] = field(default_factory=list)
    errors: list[RunIssue] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok`` (no error), ``partial`` (errors, some series classified) or ``failed``."""
        return self.record["status"]


@dataclass
class ClinicalRunResult:
    """What :meth:`~monai_tumorcls.apps.clinical.ClinicalInferer.run` did.

    Attributes:
        run_name: the run name (also the output file stem).
        json_path: the JSON report.
        csv_path: the CSV slice table.
        series: classified series/volumes.
        skipped: items deliberately not classified (non-image files, series not selected).
        errors: items that failed.
        inputs: per-input summary dicts.
        saliency_map: what the run's saliency overlays show (``grad_cam`` or ``lesion``).
        provenance: what produced the run's results and when
            (:meth:`~monai_tumorcls.checkpoint.Provenance.record`), as its files record it.
    """

    run_name: str
    json_path: Path
    csv_path: Path
    series: list[SeriesResult]
    skipped: list[RunIssue]
    errors: list[RunIssue]
    inputs: list[dict]
    saliency_map: str = "grad_cam"
    provenance: dict | None = None

    @property
    def n_decided(self) -> int:
        """Series with a decision (a series without any usable slice is recorded, undetermined, as an error)."""
        return sum(s.decision.is_tumour is not None for s in self.series)

    @property
    def ok(self) -> bool:
        """True when nothing failed and at least one series was classified."""
        return not self.errors and self.n_decided > 0

    @property
    def exit_code(self) -> int:
        """0: all inputs classified without errors; 1: some errors, at least one series classified;
        2: nothing classified."""
        if not self.n_decided:
            return 2
        return 1 if self.errors else 0


@dataclass
class ImageRunResult:
    """What :meth:`~monai_tumorcls.apps.clinical.ClinicalInferer.run_images` did: one row per image file
    (``status`` ``ok``, ``error`` or ``skipped``), written to ``json_path`` and ``csv_path``."""

    rows: list[dict]
    json_path: Path | None = None
    csv_path: Path | None = None

    def count(self, status: str) -> int:
        """The rows with ``status``."""
        return sum(r["status"] == status for r in self.rows)

    @property
    def exit_code(self) -> int:
        """0: every file classified (or skipped); 1: some failed; 2: none classified."""
        if not self.count("ok"):
            return 2
        return 1 if self.count("error") else 0
