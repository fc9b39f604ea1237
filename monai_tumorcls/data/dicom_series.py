"""Find DICOM image series in a folder tree, order their slices and choose which ones are classified.

:func:`scan_dicom_folder` reads headers only (``stop_before_pixels``), groups the image files by
StudyInstanceUID/SeriesInstanceUID and reports every file it could not use with a reason.
:func:`order_frames` sorts the slices (frames) of a series by ImagePositionPatient projected on the slice
normal, falling back to InstanceNumber. :class:`SeriesSelection` decides which series are classified.

Privacy: the returned objects keep UIDs and the series description in memory (needed for grouping and
selection) but every ``reason`` string and :attr:`DicomSeries.series_id` is free of tag values.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from .datalist import IMAGE_SUFFIXES
from .input_limits import MAX_DICOM_FILE_BYTES, entry_problem, open_capped, read_head
from .own_outputs import is_output_folder, is_own_dicom, own_output_kind, skip_reason
from .readers.errors import ImageReadError

__all__ = [
    "DEFAULT_EXCLUDE_DESCRIPTION",
    "DICOM_SUFFIXES",
    "NIFTI_SUFFIXES",
    "is_nifti_file",
    "is_dicom_file",
    "DicomFrameRef",
    "DicomSeries",
    "ScanIssue",
    "DicomScanResult",
    "FrameOrder",
    "SeriesSelection",
    "scan_dicom_folder",
    "scan_dicom_files",
    "order_frames",
    "select_series",
    "quiet_pydicom",
]

DICOM_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom", ".ima")
NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_POS_TOL_MM = 1e-3
_ORIENT_TOL = 1e-3


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom warnings and log records while reading (they may quote tag values)."""
    logger = logging.getLogger("pydicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _floats(value, n: int) -> tuple[float, ...] | None:
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


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first(seq_holder, seq_name: str):
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
class ScanIssue:
    """A file (or folder) the scanner did not use.

    Attributes:
        path: the file or folder.
        reason: why (never contains tag values).
        is_error: True for a file that should have been readable (corrupt/truncated DICOM, a ``.dcm`` that is
            not DICOM, empty input folder); False for files that are simply not images (text files, DICOMDIR,
            structured reports, presentation states).
    """

    path: Path
    reason: str
    is_error: bool


@dataclass
class DicomScanResult:
    """What :func:`scan_dicom_folder` found.

    Attributes:
        root: the scanned folder.
        series: image series, sorted by ``series_id``.
        issues: files not used, with reasons.
        nifti_files: NIfTI files met during the walk (not read by the scanner).
        n_files: number of regular files visited.
    """

    root: Path
    series: list[DicomSeries]
    issues: list[ScanIssue]
    nifti_files: list[Path]
    n_files: int

    @property
    def errors(self) -> list[ScanIssue]:
        """Issues that are errors."""
        return [i for i in self.issues if i.is_error]

    @property
    def skipped(self) -> list[ScanIssue]:
        """Issues that are not errors (non-image files)."""
        return [i for i in self.issues if not i.is_error]


def is_nifti_file(path: Path) -> bool:
    """True when ``path``'s name ends with a NIfTI suffix (case-insensitive)."""
    name = path.name.lower()
    return any(name.endswith(s) for s in NIFTI_SUFFIXES)


def _sop_class_name(uid: str) -> str:
    """The registered name of a SOP Class UID; never the UID itself (a tag value stays out of reasons and logs)."""
    name = UID(uid).name if uid else ""
    return name if name and name != str(uid) else "unknown SOP class"


def _looks_like_dicom_name(path: Path) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Cheap test without parsing: a DICOM suffix (:data:`DICOM_SUFFIXES`), or the ``DICM`` marker at byte 128.

    An unreadable file, or an entry that is not a regular file, is not DICOM here; the scanner reports it when it reads
    the folder.
    """
    path = Path(path)
    if _looks_like_dicom_name(path):
        return True
    head = read_head(path, 132)  # b"" for anything but a regular file: a FIFO is never opened
    return len(head) == 132 and head[128:132] == b"DICM"


def _series_id(study_uid: str, series_uid: str, fallback: str) -> str:
    key = f"{study_uid}/{series_uid}" if series_uid else f"nouid:{fallback}"
    return "s-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _frames_from_dataset(ds, path: Path) -> list[DicomFrameRef]:
    rows, cols = _int(ds.get("Rows")), _int(ds.get("Columns"))
    top_ipp = _floats(ds.get("ImagePositionPatient"), 3)
    top_iop = _floats(ds.get("ImageOrientationPatient"), 6)
    top_ps = _floats(ds.get("PixelSpacing"), 2)
    inst = _int(ds.get("InstanceNumber"))
    n_frames = _int(ds.get("NumberOfFrames")) or 1
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if n_frames == 1 and per_frame is None:
        return [DicomFrameRef(path, None, inst, top_ipp, top_iop, top_ps, None, rows, cols)]
    shared = _first(ds, "SharedFunctionalGroupsSequence")

    def _from_groups(fg, seq, attr, n):
        for holder in (fg, shared):
            item = _first(holder, seq)
            if item is not None and attr in item:
                return _floats(item.get(attr), n) if n > 1 else _float(item.get(attr))
        return None

    frames: list[DicomFrameRef] = []
    normal = np.cross(top_iop[:3], top_iop[3:]) if top_iop is not None else None
    step = _float(ds.get("SpacingBetweenSlices")) or _float(ds.get("SliceThickness"))
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
        content = _first(fg, "FrameContentSequence")
        number = _int(content.get("InStackPositionNumber")) if content is not None else None
        frames.append(
            DicomFrameRef(path, i, number if number is not None else i + 1, pos, ori, ps, rescale, rows, cols)
        )
    return frames


_HEADER_DEFER_BYTES = 1 << 20  # header values longer than this are read only if used


# files a scanned folder often holds beside DICOM: say what to do with them, not only what they are not
_OTHER_FORMATS = {
    **dict.fromkeys(IMAGE_SUFFIXES, "PNG/JPEG image: not read in a DICOM/NIfTI run (classify image files in a run of "
                                    "their own)"),
    **dict.fromkeys((".hdr", ".img"), "Analyze or NIfTI pair file (.hdr/.img): not read (convert the pair to .nii.gz)"),
}


def _not_dicom(path: Path, dicom_name: bool) -> ScanIssue:
    """The issue of a file without the DICOM marker: an error when named like DICOM, else what it is."""
    own = own_output_kind(path)
    if own is not None:
        return ScanIssue(path, skip_reason(own), False)
    if dicom_name:
        return ScanIssue(path, f"named {path.suffix} but not a DICOM file (no 'DICM' marker)", True)
    return ScanIssue(path, _OTHER_FORMATS.get(path.suffix.lower(), "not a DICOM file"), False)


def _classify_file(path: Path, force: bool) -> tuple[object | None, ScanIssue | None]:
    """Read the header of ``path``: ``(dataset, None)`` for an image file, ``(None, issue)`` otherwise."""
    dicom_name = _looks_like_dicom_name(path)
    try:
        with open_capped(path, MAX_DICOM_FILE_BYTES, "a DICOM file") as f:  # a regular file; never a FIFO or device
            if os.fstat(f.fileno()).st_size == 0:
                return None, ScanIssue(path, "empty file (0 bytes)", is_error=dicom_name)
            with quiet_pydicom():
                # defer_size: a corrupt element length is skipped (seek), not allocated (a 22 KB file can declare 2 GB)
                ds = pydicom.dcmread(f, stop_before_pixels=True, force=force, defer_size=_HEADER_DEFER_BYTES)
    except InvalidDicomError:
        return None, _not_dicom(path, dicom_name)
    except ImageReadError as e:  # not a regular file, or over the size limit
        return None, ScanIssue(path, e.reason, True)
    except PermissionError:
        return None, ScanIssue(path, "permission denied", True)
    except Exception as e:  # noqa: BLE001 - pydicom raises many types on corrupt headers
        return None, ScanIssue(path, f"truncated or corrupt DICOM header ({type(e).__name__})", True)
    if is_own_dicom(ds):
        return None, ScanIssue(path, skip_reason("DICOM SR or secondary capture"), False)
    sop_class = str(ds.get("SOPClassUID", "") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
    if sop_class == _MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds:
        return None, ScanIssue(path, "DICOMDIR (media directory), not an image", False)
    if _int(ds.get("Rows")) is None or _int(ds.get("Columns")) is None:
        if not sop_class:
            return None, ScanIssue(path, "truncated or corrupt DICOM header (no SOP Class UID)", True)
        name = _sop_class_name(sop_class)
        if "Image Storage" in name:  # an image class without the image module: the header was cut short
            return None, ScanIssue(path, f"truncated or corrupt DICOM header ({name} without Rows/Columns)", True)
        return None, ScanIssue(path, f"not an image: {name}", False)
    return ds, None


def _walk_files(root: Path, follow_symlinks: bool, excluded: set[str]) -> tuple[list[Path], list[ScanIssue]]:
    """Every regular file below ``root`` and the entries that are not read (never silently left out): unlistable
    folders, links to folders not followed, link loops (when following), output folders of a run and the folders
    ``excluded`` (real paths), and entries that are not regular files (dangling links, FIFOs, sockets, devices and
    links to them: :func:`~monai_tumorcls.data.input_limits.entry_problem`; never opened)."""
    files: list[Path] = []
    issues: list[ScanIssue] = []
    seen = {os.path.realpath(root)}
    on_error = lambda e: issues.append(ScanIssue(Path(e.filename), "folder cannot be listed (permission denied or unreadable)", True))  # noqa: E731
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_symlinks, onerror=on_error):
        here = Path(dirpath)
        dirnames[:] = [d for d in sorted(dirnames) if _enter_folder(here / d, follow_symlinks, seen, excluded, issues)]
        for name in sorted(filenames):
            path = here / name
            problem = entry_problem(path)
            if problem is None:
                files.append(path)
            else:
                issues.append(ScanIssue(path, problem, True))
    return files, issues


def _enter_folder(folder: Path, follow_symlinks: bool, seen: set[str], excluded: set[str], issues: list) -> bool:
    """Whether the walk enters ``folder``; when not, the reason is appended to ``issues``."""
    real = os.path.realpath(folder)
    if is_output_folder(folder) or real in excluded:
        issues.append(ScanIssue(folder, skip_reason("the output folder of a run"), False))
        return False
    if not folder.is_symlink():
        return True
    if not follow_symlinks:
        issues.append(ScanIssue(folder, "symbolic link to a folder, not followed", False))
    elif real in seen:
        issues.append(ScanIssue(folder, "symbolic link loop, not followed", True))
    else:
        seen.add(real)
        return True
    return False


def _new_series(ds, path: Path, root: Path) -> DicomSeries:
    """An empty :class:`DicomSeries` described by the header ``ds`` of its first file ``path``."""
    study, series_uid = str(ds.get("StudyInstanceUID", "") or ""), str(ds.get("SeriesInstanceUID", "") or "")
    return DicomSeries(
        series_id=_series_id(study, series_uid, str(path.parent)),
        root=root,
        modality=str(ds.get("Modality", "") or "").upper(),
        sop_class_name=_sop_class_name(str(ds.get("SOPClassUID", "") or "")),
        study_uid=study,
        series_uid=series_uid,
        series_description=str(ds.get("SeriesDescription", "") or ""),
        slice_spacing_hint=_float(ds.get("SpacingBetweenSlices")) or _float(ds.get("SliceThickness")),
    )


def scan_dicom_files(
    files: Sequence[str | os.PathLike], root: str | os.PathLike | None = None, force: bool = False
) -> DicomScanResult:
    """Group the given files into series (see :func:`scan_dicom_folder`).

    Args:
        files: file paths.
        root: reported root (default: the common parent folder of ``files``).
        force: passed to ``pydicom.dcmread`` (read files without the DICOM preamble).
    """
    paths = [Path(f) for f in files]
    if root is None:
        root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
    series: dict[tuple[str, str], DicomSeries] = {}
    issues: list[ScanIssue] = []
    nifti: list[Path] = []
    for path in paths:
        problem = entry_problem(path)
        if problem is not None:  # a FIFO, device or socket is never opened
            issues.append(ScanIssue(path, problem, True))
            continue
        if is_nifti_file(path):
            nifti.append(path)
            continue
        ds, issue = _classify_file(path, force)
        if issue is not None:
            issues.append(issue)
            continue
        try:
            frames = _frames_from_dataset(ds, path)
        except Exception as e:  # noqa: BLE001 - malformed functional groups etc.
            issues.append(ScanIssue(path, f"malformed image header ({type(e).__name__})", True))
            continue
        study, series_uid = str(ds.get("StudyInstanceUID", "") or ""), str(ds.get("SeriesInstanceUID", "") or "")
        key = (study, series_uid or f"folder:{path.parent}")  # no series UID: the file's folder is the series
        if key not in series:
            series[key] = _new_series(ds, path, Path(root))
        s = series[key]
        s.frames.extend(frames)
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        s.transfer_syntaxes.add(UID(str(ts)).name if ts else "unknown")
    return DicomScanResult(Path(root), sorted(series.values(), key=lambda s: s.series_id), issues, nifti, len(paths))


def scan_dicom_folder(
    root: str | os.PathLike, follow_symlinks: bool = False, force: bool = False,
    exclude: Sequence[str | os.PathLike] = (),
) -> DicomScanResult:
    """Walk ``root`` and group every DICOM image file by StudyInstanceUID/SeriesInstanceUID.

    Non-image files are reported in :attr:`DicomScanResult.issues`: non-DICOM files and DICOMDIR, structured
    reports, presentation states and other SOP classes without pixels are skipped (``is_error=False``); empty
    or truncated files, files named ``.dcm`` that are not DICOM, entries that are not regular files (FIFOs, sockets,
    devices, dangling links: never opened), files over :data:`~monai_tumorcls.data.input_limits.MAX_DICOM_FILE_BYTES`
    and an empty folder are errors. NIfTI files
    are listed in :attr:`DicomScanResult.nifti_files`. Files are visited in sorted order (deterministic).

    Args:
        root: folder to walk (a single file is accepted too).
        follow_symlinks: follow symbolic links to folders.
        force: passed to ``pydicom.dcmread`` (read files without the DICOM preamble).
        exclude: folders not scanned (e.g. the run's output folder), recorded as skipped; the output folder of any
            run (it holds the run's lock file) is not scanned either, and the DICOM files this package writes are
            skipped (:mod:`~monai_tumorcls.data.own_outputs`).

    Returns:
        a :class:`DicomScanResult`.
    """
    root = Path(root)
    if not root.is_dir():
        if not os.path.lexists(root):
            return DicomScanResult(root, [], [ScanIssue(root, "input does not exist", True)], [], 0)
        return scan_dicom_files([root], root=root.parent, force=force)
    files, walk_issues = _walk_files(root, follow_symlinks, {os.path.realpath(p) for p in exclude})
    result = scan_dicom_files(files, root=root, force=force)
    result.issues.extend(walk_issues)
    if result.n_files == 0 and not walk_issues:
        result.issues.append(ScanIssue(root, "empty folder (no files)", True))
    return result


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
