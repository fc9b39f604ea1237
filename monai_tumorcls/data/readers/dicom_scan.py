"""Find DICOM image series in a folder tree and report every file that is not used, with a reason.

:func:`scan_dicom_folder` reads headers only (``stop_before_pixels``), groups the image files by
StudyInstanceUID/SeriesInstanceUID (:class:`~monai_tumorcls.data.readers.dicom_series.DicomSeries`) and reports
every file it could not use (:class:`ScanIssue`). Reasons never contain tag values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from ..datalist import IMAGE_SUFFIXES
from ..input_limits import MAX_DICOM_FILE_BYTES, entry_problem, open_capped, read_head
from ..own_outputs import is_output_folder, is_own_dicom, own_output_kind, skip_reason
from .dicom_series import DicomSeries, frames_from_dataset, header_int, new_series, quiet_pydicom, sop_class_name
from .errors import ImageReadError

__all__ = [
    "DICOM_SUFFIXES",
    "NIFTI_SUFFIXES",
    "is_nifti_file",
    "is_dicom_file",
    "ScanIssue",
    "DicomScanResult",
    "scan_dicom_folder",
    "scan_dicom_files",
]

DICOM_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom", ".ima")
NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


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
    if header_int(ds.get("Rows")) is None or header_int(ds.get("Columns")) is None:
        if not sop_class:
            return None, ScanIssue(path, "truncated or corrupt DICOM header (no SOP Class UID)", True)
        name = sop_class_name(sop_class)
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
    with quiet_pydicom():  # once for the scan (each file's own block is then cheap)
        return _grouped(paths, Path(root), force)


def _grouped(paths: list[Path], root: Path, force: bool) -> DicomScanResult:
    """:func:`scan_dicom_files` of ``paths``."""
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
            frames = frames_from_dataset(ds, path)
        except Exception as e:  # noqa: BLE001 - malformed functional groups etc.
            issues.append(ScanIssue(path, f"malformed image header ({type(e).__name__})", True))
            continue
        study, series_uid = str(ds.get("StudyInstanceUID", "") or ""), str(ds.get("SeriesInstanceUID", "") or "")
        key = (study, series_uid or f"folder:{path.parent}")  # no series UID: the file's folder is the series
        if key not in series:
            series[key] = new_series(ds, path, Path(root))
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
