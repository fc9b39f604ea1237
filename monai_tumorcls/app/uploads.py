"""Uploads of the web app: size limits, a per-request temporary folder, and safe extraction of zipped DICOM
folders. Nothing here knows about models; :mod:`monai_tumorcls.app.service` classifies what this stores."""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from monai_tumorcls.data.dicom_series import NIFTI_SUFFIXES

__all__ = ["UploadLimits", "UploadError", "request_folder", "store_upload", "extract_zip", "safe_name"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ZIP_SUFFIX = ".zip"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadLimits:
    """Caps on what one request may bring (defaults fit a brain MRI series; change them with the app's options).

    Attributes:
        max_upload_bytes: the uploaded file (and the request body).
        max_zip_members: files in a zip.
        max_unzipped_bytes: all files of a zip once extracted.
    """

    max_upload_bytes: int = 256 << 20
    max_zip_members: int = 4000
    max_unzipped_bytes: int = 1 << 30


class UploadError(ValueError):
    """An upload that is refused; ``status`` is the HTTP status (400 bad file, 413 too large) and the message is
    one line naming the file and the problem."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def safe_name(filename: str | None) -> str:
    """The uploaded file's base name with anything but letters, digits, ``._-`` replaced (the suffix, which
    selects the reader, is kept); ``upload`` when nothing is left."""
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return base[:120] or "upload"


def upload_kind(name: str) -> str:
    """``image``, ``nifti`` or ``zip`` from the file name, or :class:`UploadError` naming the accepted kinds."""
    lower = name.lower()
    if lower.endswith(IMAGE_SUFFIXES):
        return "image"
    if lower.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if lower.endswith(ZIP_SUFFIX):
        return "zip"
    raise UploadError(f"{name}: unsupported file type (expected PNG/JPEG, NIfTI .nii/.nii.gz or a zipped DICOM folder)")


@contextmanager
def request_folder(parent: str | Path | None = None) -> Iterator[Path]:
    """A temporary folder for one request (below ``parent``, default the system's temporary folder), removed with
    everything in it when the request ends (also on errors)."""
    folder = Path(tempfile.mkdtemp(prefix="tumorcls_app_", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_capped(src: BinaryIO, dst: Path, cap: int, what: str) -> int:
    """Copy ``src`` into ``dst`` in chunks; :class:`UploadError` (413) as soon as more than ``cap`` bytes came."""
    written = 0
    with open(dst, "xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise UploadError(f"{what}: too large (limit {cap >> 20} MiB)", status=413)
            out.write(chunk)
    return written


def store_upload(stream: BinaryIO, filename: str | None, folder: Path, limits: UploadLimits) -> tuple[Path, str]:
    """Write the uploaded ``stream`` into ``folder`` and return ``(input path, kind)``: the image or NIfTI file,
    or the folder a zip was extracted into (kind ``dicom``).

    Raises:
        UploadError: unsupported type, empty or too large upload, unsafe or oversized zip.
    """
    name = safe_name(filename)
    kind = upload_kind(name)
    path = folder / name
    if _copy_capped(stream, path, limits.max_upload_bytes, name) == 0:
        raise UploadError(f"{name}: empty file (0 bytes)")
    if kind != "zip":
        return path, kind
    target = folder / "dicom"
    extract_zip(path, target, limits)
    path.unlink()
    return target, "dicom"


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be extracted (absolute or parent-relative path, link, device), else None."""
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        return f"unsafe member path {info.filename!r}"
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip was not made on a Unix system
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"member {info.filename!r} is a link or special file"
    return None


def extract_zip(archive: Path, target: Path, limits: UploadLimits) -> int:
    """Extract the regular files of ``archive`` below ``target``; returns how many.

    Every member is checked before anything is written: no absolute or ``..`` paths, no links, at most
    ``limits.max_zip_members`` files and ``limits.max_unzipped_bytes`` in all (by the headers, then again while
    writing, since a header may lie).

    Raises:
        UploadError: not a zip, unsafe member, too many or too large members, no files.
    """
    name = archive.name
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise UploadError(f"{name}: not a readable zip file ({e})") from e
    with zf:
        files = [i for i in zf.infolist() if not i.is_dir()]
        for info in zf.infolist():
            if problem := _member_problem(info):
                raise UploadError(f"{name}: {problem}; nothing extracted")
        if len(files) > limits.max_zip_members:
            raise UploadError(f"{name}: {len(files)} files, more than the limit of {limits.max_zip_members}", 413)
        if sum(i.file_size for i in files) > limits.max_unzipped_bytes:
            raise UploadError(f"{name}: too large once extracted (limit {limits.max_unzipped_bytes >> 20} MiB)", 413)
        if not files:
            raise UploadError(f"{name}: the zip holds no files")
        budget = limits.max_unzipped_bytes
        for info in files:
            dst = target.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src:
                    budget -= _copy_capped(src, dst, budget, f"{name} (extracted)")
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as e:  # RuntimeError: encrypted
                raise UploadError(f"{name}: member {info.filename!r} cannot be extracted ({e})") from e
    return len(files)
