"""Which source instances a contributing slice of a classified DICOM series was made from, for the references of
its DICOM results (:mod:`.dicom_results`).

A slice that is not resliced is one stored frame: its record names the file (``source_file_id``) and frame.

A resliced slice (e.g. an axial slice of a sagittal series) is cut across the stored images: the reslicing
permutes the volume's axes, so slice ``k`` takes one line of pixels from each stored image whose plane crosses it.
Its sources are the images read into the volume (the series' ``file_ids``: a file left out as unreadable is not
one) whose pixel centres, along the world axis of the slice plane (S for axial, A for coronal, R for sagittal),
span the slice's ``position_mm`` to within one source pixel (a pixel step projected onto that axis, from
ImagePositionPatient, ImageOrientationPatient, PixelSpacing, Rows and Columns). An image without that geometry, a
multi-frame image, or any image of an oblique series (more than 1 degree: the slice is then not a plane of constant
world coordinate) cannot be ruled out and counts as a source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pydicom

from ...data.datalist import file_sha256
from ...data.readers import DicomSeries
from .records import SeriesResult, file_id

__all__ = ["files_by_id", "slice_sources", "read_headers"]

#: LPS axis and sign of the RAS coordinate that ``SliceRecord.position_mm`` gives for each slice plane
_PLANE_LPS_AXIS = {"sagittal": (0, -1.0), "coronal": (1, -1.0), "axial": (2, 1.0)}
_MAX_OBLIQUITY_DEG = 1.0

Sources = dict[int, list[tuple[Path, "int | None"]]]


def files_by_id(dicom: DicomSeries) -> dict[str, Path]:
    """The series' files by the ``file_id`` the run recorded for them (``f-`` + SHA-256 of the bytes)."""
    return {file_id(file_sha256(p)): p for p in dicom.files}


def read_headers(paths: Iterable[Path]) -> dict[Path, pydicom.Dataset]:
    """The datasets of ``paths`` without their pixel data, each file read once."""
    return {p: pydicom.dcmread(p, stop_before_pixels=True) for p in dict.fromkeys(paths)}


def slice_sources(series: SeriesResult, by_id: Mapping[str, Path]) -> tuple[Sources, dict[Path, pydicom.Dataset]]:
    """Contributing slice -> the (file, frame) pairs it was made from (frame None: the whole file), by the rule
    of this module's docstring, and the headers read to decide it (those of a resliced series' images; none
    otherwise), so that the caller reads no file twice. A file the run recorded but no longer found (``by_id``) is
    not referenced."""
    contributing = series.decision.contributing_slices
    if not series.resliced:
        slices = {s.slice_index: s for s in series.slices}
        return {k: [(by_id[slices[k].source_file_id], slices[k].source_frame)]
                for k in contributing if slices[k].source_file_id in by_id}, {}
    volume_files = [by_id[f] for f in series.file_ids if f in by_id]
    headers = read_headers(volume_files)
    axis, sign = _PLANE_LPS_AXIS.get(series.slice_plane, (None, 1.0))
    if axis is None or series.obliquity_deg > _MAX_OBLIQUITY_DEG:
        return {k: [(p, None) for p in volume_files] for k in contributing}, headers
    spans = {p: _span(ds, axis) for p, ds in headers.items()}
    return {k: [(p, None) for p in volume_files if _crosses(spans[p], sign * series.slices[k].position_mm)]
            for k in contributing}, headers


def _span(ds: pydicom.Dataset, axis: int) -> tuple[float, float] | None:
    """(low, high) of the image's pixel centres along LPS ``axis``, widened by one pixel step; None when the image
    has no usable plane geometry (or is multi-frame: its frames' planes are elsewhere)."""
    try:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            return None
        origin = np.asarray(ds.ImagePositionPatient, dtype=float)
        orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
        row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
        rows, columns = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        return None
    along_row = orientation[axis] * col_spacing  # one column step (direction of increasing column index)
    along_col = orientation[3 + axis] * row_spacing  # one row step
    corners = [origin[axis] + j * along_row + i * along_col for i in (0, rows - 1) for j in (0, columns - 1)]
    step = abs(along_row) + abs(along_col)
    return min(corners) - step, max(corners) + step


def _crosses(span: tuple[float, float] | None, position_lps: float) -> bool:
    return span is None or span[0] <= position_lps <= span[1]
