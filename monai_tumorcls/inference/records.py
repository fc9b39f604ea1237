"""What a clinical run records and writes: the per-input, per-series and per-slice records, and the run's JSON report
and CSV slice table (:func:`write_run_outputs`).

Privacy: the records hold no DICOM tag values except Modality, no UIDs, no series descriptions, and (unless the run
has ``record_paths=True``) no paths: files are named by ``file_id``, series by an opaque ``series_id``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.atomic import atomic_write_texts
from .aggregation import SeriesDecision

__all__ = [
    "RunIssue",
    "SliceRecord",
    "SeriesResult",
    "InputResult",
    "ClinicalRunResult",
    "SCHEMA_VERSION",
    "CSV_COLUMNS",
    "csv_text",
    "write_run_outputs",
]

SCHEMA_VERSION = 1


@dataclass
class RunIssue:
    """An input, file or series that was not classified.

    Attributes:
        input_index: index of the input in ``inputs``.
        item: what it concerns: ``"input"``, ``"file f-…"``, ``"series s-…"`` or ``"volume v-…"``.
        reason: why (no tag values, no paths).
        path: relative path, only with ``record_paths=True``.
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
class SliceRecord:
    """One emitted slice of a series (row of the CSV). ``warnings``: why its prediction should not be trusted
    (:func:`~monai_tumorcls.data.image_checks.image_warnings`: blank, or tiny as read)."""

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
        return d


@dataclass
class SeriesResult:
    """Result for one DICOM series or NIfTI volume."""

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
            "provenance": {"n_files": len(self.file_ids), "file_ids": self.file_ids},
            "slices": [s.to_dict(with_path) for s in self.slices],
        }
        if with_path:
            d["provenance"]["files"] = self.files
        return d


@dataclass
class InputResult:
    """What :meth:`~monai_tumorcls.inference.ClinicalInferer.classify_input` found in one input (file or folder).

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
    """What :func:`~monai_tumorcls.inference.run_clinical_inference` did.

    Attributes:
        run_name: the run name (also the output file stem).
        json_path: the JSON report.
        csv_path: the CSV slice table.
        series: classified series/volumes.
        skipped: items deliberately not classified (non-image files, series not selected).
        errors: items that failed.
        inputs: per-input summary dicts.
    """

    run_name: str
    json_path: Path
    csv_path: Path
    series: list[SeriesResult]
    skipped: list[RunIssue]
    errors: list[RunIssue]
    inputs: list[dict]

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


CSV_COLUMNS = [
    "series_index",
    "series_id",
    "input_index",
    "source",
    "modality",
    "slice_plane",
    "series_label",
    "series_tumour_probability",
    "series_predicted_class",
    "slice_index",
    "position_mm",
    "excluded",
    "exclusion_reason",
    "foreground_fraction",
    "contributing",
    "tumour_probability",
    "warnings",
]


def csv_text(series: Sequence[SeriesResult], class_names: Sequence[str], with_path: bool) -> str:
    """The CSV slice table: one row per slice of each series, ``prob_<class>`` columns in ``class_names`` order."""
    buf = io.StringIO()
    cols = (
        CSV_COLUMNS + [f"prob_{c}" for c in class_names] + ["source_file_id", "source_frame", "source_instance_number"]
    )
    if with_path:
        cols.append("source_path")
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for s in series:
        for r in s.slices:
            row = {
                "series_index": s.series_index,
                "series_id": s.series_id,
                "input_index": s.input_index,
                "source": s.source,
                "modality": s.modality,
                "slice_plane": s.slice_plane,
                "series_label": s.decision.label,
                "series_tumour_probability": _fmt(s.decision.tumour_probability),
                "series_predicted_class": s.decision.predicted_class or "",
                "slice_index": r.slice_index,
                "position_mm": r.position_mm,
                "excluded": int(r.excluded),
                "exclusion_reason": r.exclusion_reason,
                "foreground_fraction": r.foreground_fraction,
                "contributing": int(r.contributing),
                "tumour_probability": _fmt(r.tumour_probability),
                "warnings": "; ".join(r.warnings),
                "source_file_id": r.source_file_id or "",
                "source_frame": "" if r.source_frame is None else r.source_frame,
                "source_instance_number": "" if r.source_instance_number is None else r.source_instance_number,
            }
            for c in class_names:
                row[f"prob_{c}"] = _fmt(r.probabilities[c]) if r.probabilities else ""
            if with_path:
                row["source_path"] = r.source_path or ""
            w.writerow(row)
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.6f}"


def finite_or_null(value):
    """``value`` with every float that is not finite (NaN, Inf) replaced by ``None``, in nested dicts, lists and
    tuples: JSON has no NaN, and one such value must not stop the run's report from being written."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def write_run_outputs(result: ClinicalRunResult, report: dict, class_names: Sequence[str], with_path: bool) -> None:
    """Write ``report`` to ``result.json_path`` and the slice table to ``result.csv_path`` as one set (both replace
    the old files, or neither does), so the two files always come from the same run. A value that is not finite is
    written as null (JSON) or left empty (CSV)."""
    json_text = json.dumps(finite_or_null(report), indent=2, allow_nan=False) + "\n"
    atomic_write_texts({result.json_path: json_text, result.csv_path: csv_text(result.series, class_names, with_path)})
