"""DICOM series in memory: the 2D images (frames) of a series read from its headers, and their slice order.

:func:`frames_from_dataset` turns one header (single- or multi-frame file) into :class:`DicomFrameRef` objects;
:func:`new_series` starts the :class:`DicomSeries` they are grouped into (by
:func:`~monai_tumorcls.data.readers.dicom_scan.scan_dicom_folder`); :func:`order_frames` sorts the frames by
ImagePositionPatient projected on the slice normal, falling back to InstanceNumber.

Privacy: the returned objects keep UIDs and the series description in memory (needed for grouping and
selection) but every ``reason`` string and :attr:`DicomSeries.series_id` is free of tag values.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.uid import UID

__all__ = [
    "DicomFrameRef",
    "DicomSeries",
    "FrameOrder",
    "frames_from_dataset",
    "new_series",
    "order_frames",
    "quiet_pydicom",
    "sop_class_name",
]

_POS_TOL_MM = 1e-3
_ORIENT_TOL = 1e-3


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom warnings and log records while reading (they may quote tag values). Nested blocks (one per
    file inside one per series or scan) leave the level alone: setting a logger's level clears the caches of every
    logger, which costs about as much as reading a small file's header."""
    logger = logging.getLogger("pydicom")
    level = logger.level
    if level != logging.CRITICAL:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if level != logging.CRITICAL:
            logger.setLevel(level)


def header_floats(value, n: int) -> tuple[float, ...] | None:
    """``value`` as ``n`` finite floats, or None when missing/malformed."""
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(out) != n or not np.all(np.isfinite(out)):
        return None
    return out


def header_float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def header_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def first_item(seq_holder, seq_name: str):
    """First item of sequence ``seq_name`` in ``seq_holder`` (a Dataset) or None."""
    if seq_holder is None:
        return None
    seq = seq_holder.get(seq_name)
    if seq is None or len(seq) == 0:
        return None
    return seq[0]


@dataclass
class DicomFrameRef:
    """One 2D image: a single-frame file or one frame of a multi-frame file.

    Attributes:
        path: the file.
        frame: 0-based frame index in a multi-frame file, None for a single-frame file.
        instance_number: InstanceNumber (or the frame's InStackPositionNumber), None if absent.
        position: ImagePositionPatient (LPS, mm) or None.
        orientation: ImageOrientationPatient (row cosines then column cosines) or None.
        pixel_spacing: PixelSpacing (between rows, between columns) in mm, or None.
        rescale: per-frame (slope, intercept) from functional groups, None = use the file-level tags.
        rows: Rows.
        columns: Columns.
    """

    path: Path
    frame: int | None
    instance_number: int | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    rescale: tuple[float, float] | None
    rows: int
    columns: int


@dataclass
class DicomSeries:
    """An image series found by the scanner.

    Attributes:
        series_id: opaque id ``"s-" + sha256(StudyInstanceUID/SeriesInstanceUID)[:12]`` (safe to write out).
        root: the scanned folder (or the common parent of the scanned files).
        modality: Modality tag ("" when absent).
        sop_class_name: name of the SOP class (e.g. "MR Image Storage"), not identifying.
        frames: one :class:`DicomFrameRef` per 2D image, in scan order (see :func:`order_frames`).
        study_uid: StudyInstanceUID (in memory only; never written to outputs).
        series_uid: SeriesInstanceUID (in memory only).
        series_description: SeriesDescription (in memory only; used by :class:`SeriesSelection`).
        transfer_syntaxes: transfer syntax names of the files.
    """

    series_id: str
    root: Path
    modality: str
    sop_class_name: str
    frames: list[DicomFrameRef] = field(default_factory=list)
    study_uid: str = field(default="", repr=False)
    series_uid: str = field(default="", repr=False)
    series_description: str = field(default="", repr=False)
    transfer_syntaxes: set[str] = field(default_factory=set)
    slice_spacing_hint: float | None = None

    @property
    def files(self) -> list[Path]:
        """Distinct files of the series, in scan order."""
        return list(dict.fromkeys(f.path for f in self.frames))

    @property
    def n_slices(self) -> int:
        """Number of 2D images (frames) in the series."""
        return len(self.frames)

    def geometry_problem(self) -> str | None:
        """Reason why the frames cannot form one volume, or None (header-level check)."""
        sizes = {(f.rows, f.columns) for f in self.frames}
        if len(sizes) > 1:
            return f"slices have {len(sizes)} different sizes (rows x columns)"
        clusters: list[np.ndarray] = []
        for o in {f.orientation for f in self.frames if f.orientation is not None}:
            if not any(np.allclose(o, c, atol=_ORIENT_TOL) for c in clusters):
                clusters.append(np.asarray(o))
        if len(clusters) > 1:
            return f"slices have {len(clusters)} different orientations (multi-planar series, e.g. a localizer)"
        order = order_frames(self.frames)
        if order.duplicate_positions:
            n_pos = len(self.frames) - order.duplicate_positions
            return (
                f"{len(self.frames)} slices share {n_pos} positions: several volumes (echoes, time points or "
                "b-values) in one series"
            )
        return None


@dataclass
class FrameOrder:
    """Result of :func:`order_frames`.

    Attributes:
        frames: frames sorted along the slice normal (position) or by InstanceNumber.
        method: ``"position"``, ``"instance_number"`` or ``"file_order"``.
        normal: unit slice normal (LPS) from ImageOrientationPatient, None if unknown.
        positions: position of each sorted frame along the normal (mm), None unless ``method == "position"``.
        duplicate_positions: number of frames sharing a position with the previous one.
    """

    frames: list[DicomFrameRef]
    method: str
    normal: np.ndarray | None
    positions: np.ndarray | None
    duplicate_positions: int


def order_frames(frames: Sequence[DicomFrameRef]) -> FrameOrder:
    """Sort frames by ImagePositionPatient projected on the slice normal (row x column cosines).

    Falls back to InstanceNumber when any frame lacks a position or the orientation is unknown, and to the
    scan order when InstanceNumber is missing too. Ties keep InstanceNumber order.

    Args:
        frames: the frames of one series.
    """
    frames = list(frames)
    oris = [f.orientation for f in frames if f.orientation is not None]
    normal = None
    if oris:
        n = np.cross(np.asarray(oris[0][:3]), np.asarray(oris[0][3:]))
        norm = np.linalg.norm(n)
        normal = n / norm if norm > 1e-6 else None
    by_number = all(f.instance_number is not None for f in frames)
    if normal is not None and frames and all(f.position is not None for f in frames):
        proj = np.array([float(np.dot(normal, f.position)) for f in frames])
        tiebreak = [f.instance_number if f.instance_number is not None else i for i, f in enumerate(frames)]
        idx = sorted(range(len(frames)), key=lambda i: (proj[i], tiebreak[i]))
        positions = proj[idx]
        dups = int(np.sum(np.diff(positions) < _POS_TOL_MM)) if len(positions) > 1 else 0
        return FrameOrder([frames[i] for i in idx], "position", normal, positions, dups)
    if by_number:
        idx = sorted(range(len(frames)), key=lambda i: (frames[i].instance_number, i))
        return FrameOrder([frames[i] for i in idx], "instance_number", normal, None, 0)
    return FrameOrder(frames, "file_order", normal, None, 0)


def sop_class_name(uid: str) -> str:
    """The registered name of a SOP Class UID; never the UID itself (a tag value stays out of reasons and logs)."""
    name = UID(uid).name if uid else ""
    return name if name and name != str(uid) else "unknown SOP class"


def opaque_series_id(study_uid: str, series_uid: str, fallback: str) -> str:
    """``"s-"`` + 12 hex digits of a hash of the UIDs (or of ``fallback`` without a series UID): safe to write out."""
    key = f"{study_uid}/{series_uid}" if series_uid else f"nouid:{fallback}"
    return "s-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def frames_from_dataset(ds, path: Path) -> list[DicomFrameRef]:
    """The 2D images of the file ``path`` whose header is ``ds``: one for a single-frame file, one per frame of a
    multi-frame file (per-frame functional groups first, then the shared ones, then the top-level tags)."""
    rows, cols = header_int(ds.get("Rows")), header_int(ds.get("Columns"))
    top_ipp = header_floats(ds.get("ImagePositionPatient"), 3)
    top_iop = header_floats(ds.get("ImageOrientationPatient"), 6)
    top_ps = header_floats(ds.get("PixelSpacing"), 2)
    inst = header_int(ds.get("InstanceNumber"))
    n_frames = header_int(ds.get("NumberOfFrames")) or 1
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if n_frames == 1 and per_frame is None:
        return [DicomFrameRef(path, None, inst, top_ipp, top_iop, top_ps, None, rows, cols)]
    shared = first_item(ds, "SharedFunctionalGroupsSequence")

    def _from_groups(fg, seq, attr, n):
        for holder in (fg, shared):
            item = first_item(holder, seq)
            if item is not None and attr in item:
                return header_floats(item.get(attr), n) if n > 1 else header_float(item.get(attr))
        return None

    frames: list[DicomFrameRef] = []
    normal = np.cross(top_iop[:3], top_iop[3:]) if top_iop is not None else None
    step = header_float(ds.get("SpacingBetweenSlices")) or header_float(ds.get("SliceThickness"))
    for i in range(n_frames):
        fg = per_frame[i] if per_frame is not None and i < len(per_frame) else None
        pos = _from_groups(fg, "PlanePositionSequence", "ImagePositionPatient", 3)
        ori = _from_groups(fg, "PlaneOrientationSequence", "ImageOrientationPatient", 6) or top_iop
        ps = _from_groups(fg, "PixelMeasuresSequence", "PixelSpacing", 2) or top_ps
        slope = _from_groups(fg, "PixelValueTransformationSequence", "RescaleSlope", 1)
        inter = _from_groups(fg, "PixelValueTransformationSequence", "RescaleIntercept", 1)
        rescale = (slope if slope is not None else 1.0, inter or 0.0) if (slope, inter) != (None, None) else None
        if pos is None and per_frame is None and top_ipp is not None and normal is not None and step:
            # legacy multi-frame: frames stacked along the normal from the top-level position
            pos = tuple(float(v) for v in np.asarray(top_ipp) + i * step * normal)
        content = first_item(fg, "FrameContentSequence")
        number = header_int(content.get("InStackPositionNumber")) if content is not None else None
        frames.append(
            DicomFrameRef(path, i, number if number is not None else i + 1, pos, ori, ps, rescale, rows, cols)
        )
    return frames


def new_series(ds, path: Path, root: Path) -> DicomSeries:
    """An empty :class:`DicomSeries` described by the header ``ds`` of its first file ``path``."""
    study, series_uid = str(ds.get("StudyInstanceUID", "") or ""), str(ds.get("SeriesInstanceUID", "") or "")
    return DicomSeries(
        series_id=opaque_series_id(study, series_uid, str(path.parent)),
        root=root,
        modality=str(ds.get("Modality", "") or "").upper(),
        sop_class_name=sop_class_name(str(ds.get("SOPClassUID", "") or "")),
        study_uid=study,
        series_uid=series_uid,
        series_description=str(ds.get("SeriesDescription", "") or ""),
        slice_spacing_hint=header_float(ds.get("SpacingBetweenSlices")) or header_float(ds.get("SliceThickness")),
    )
