"""Uploads of the web app: size limits, a per-request temporary folder, and safe extraction of zipped DICOM
folders. Nothing here knows about models; :mod:`monai_tumorcls.app.service` classifies what this stores."""

from __future__ import annotations

import lzma
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from monai_tumorcls.data.readers import NIFTI_SUFFIXES

__all__ = ["UploadLimits", "UploadError", "request_folder", "store_upload", "extract_zip", "safe_name"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ZIP_SUFFIX = ".zip"
_CHUNK = 1 << 20
_MAX_NAME_BYTES, _MAX_PATH_BYTES = 255, 1024  # one folder or file name (Linux NAME_MAX), a whole member path

# The zip records read before zipfile.ZipFile parses anything (PKWARE APPNOTE 4.3.12-4.3.16), with their signatures
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory: disks, entries here/total, size, offset, comment length
_EOCD64_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 locator, right after the ZIP64 end record
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end record: ..., entries here/total, size, offset
_CD_ENTRY = struct.Struct("<4s4B4HL2L5H2L")  # central directory header; name, extra, comment lengths at 12-14
_EOCD_SIG, _EOCD64_LOCATOR_SIG, _EOCD64_SIG, _CD_SIG = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06", b"PK\x01\x02"
_CD_BYTES_PER_ENTRY = 2048  # an honest entry: 46-byte header, a name of at most _MAX_PATH_BYTES, a few extra fields


@dataclass(frozen=True)
class UploadLimits:
    """Caps on what one request may bring (defaults fit a brain MRI series; change them with the app's options).

    Attributes:
        max_upload_bytes: the uploaded file (and the request body).
        max_zip_members: entries (files and folders) in a zip; its central directory may hold at most 2 KiB per
            allowed entry.
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


def _end_of_central_directory(f: BinaryIO) -> tuple[int, int, int] | None:
    """``(entries claimed, central directory start, its size in bytes)`` from the end records of the zip ``f``, or
    None when there are none. The records are found exactly as CPython's ``zipfile._EndRecData`` finds them, so that
    these numbers are the ones :class:`zipfile.ZipFile` will use: the last 22 bytes when the archive has no comment,
    else the last end signature in the final 64 KiB + 22 bytes; a ZIP64 locator right before that record means the
    ZIP64 end record right before the locator holds the real numbers. Like zipfile, the directory is taken to end
    where those records start (the stored offset is ignored: it is wrong in a zip with a prefix)."""
    size = f.seek(0, 2)
    tail_start = max(size - (1 << 16) - _EOCD.size, 0)
    f.seek(tail_start)
    tail = f.read()
    at = len(tail) - _EOCD.size
    if at < 0 or tail[at:at + 4] != _EOCD_SIG or tail[-2:] != b"\0\0":  # not a zip without a comment
        at = tail.rfind(_EOCD_SIG)
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    entries, cd_size = _EOCD.unpack_from(tail, at)[4:6]
    cd_end = tail_start + at
    zip64_at = cd_end - _EOCD64_LOCATOR.size - _EOCD64.size
    if zip64_at >= 0:
        f.seek(zip64_at)
        zip64 = f.read(_EOCD64.size + _EOCD64_LOCATOR.size)
        if zip64[_EOCD64.size:_EOCD64.size + 4] == _EOCD64_LOCATOR_SIG and zip64[:4] == _EOCD64_SIG:
            entries, cd_size = _EOCD64.unpack_from(zip64)[7:9]
            cd_end = zip64_at
    return entries, cd_end - cd_size, cd_size


def _count_entries(directory: bytes, cap: int) -> int | None:
    """How many entries the central directory bytes hold, walked as zipfile walks them, but only up to ``cap + 1``
    (an end record may lie about the count); None when a header is broken."""
    at = count = 0
    while at < len(directory) and count <= cap:
        if len(directory) - at < _CD_ENTRY.size or directory[at:at + 4] != _CD_SIG:
            return None
        at += _CD_ENTRY.size + sum(_CD_ENTRY.unpack_from(directory, at)[12:15])
        count += 1
    return count


def _check_entry_count(archive: Path, limits: UploadLimits) -> None:
    """Refuse a zip of more than ``limits.max_zip_members`` entries from its end records and central directory
    alone, before :class:`zipfile.ZipFile` parses (and builds an object for) every entry."""
    name, cap = archive.name, limits.max_zip_members
    with open(archive, "rb") as f:
        found = _end_of_central_directory(f)
        if found is None:
            raise UploadError(f"{name}: not a readable zip file (no end of central directory record)")
        entries, cd_start, cd_size = found
        if entries > cap:
            raise UploadError(f"{name}: {entries} entries, more than the limit of {cap}", 413)
        if cd_size > cap * _CD_BYTES_PER_ENTRY:
            raise UploadError(f"{name}: central directory of {cd_size} bytes, too large for {cap} entries", 413)
        if cd_start < 0:
            raise UploadError(f"{name}: not a readable zip file (bad central directory offset)")
        f.seek(cd_start)
        count = _count_entries(f.read(cd_size), cap)
    if count is None:
        raise UploadError(f"{name}: not a readable zip file (broken central directory)")
    if count > cap:
        raise UploadError(f"{name}: more than the limit of {cap} entries", 413)


def _reason(error: Exception) -> str:
    """``error`` in one line without a server path (an OSError's message names the file it failed on)."""
    text = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return " ".join(text.split()) or type(error).__name__


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    return PurePosixPath(info.filename.replace("\\", "/")).parts


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be extracted (absolute or parent-relative path, no name, name too long for the
    file system, link, device), else None."""
    parts = _member_parts(info)
    if (info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0])
            or not (parts or info.is_dir())):
        return f"unsafe member path {info.filename!r}"
    longest = max((len(part.encode()) for part in parts), default=0)
    if longest > _MAX_NAME_BYTES or len(info.filename.encode()) > _MAX_PATH_BYTES:
        return (f"member name too long ({info.filename[:40]!r}...: at most {_MAX_NAME_BYTES} bytes per folder or"
                f" file name and {_MAX_PATH_BYTES} in all)")
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip was not made on a Unix system
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"member {info.filename!r} is a link or special file"
    return None


def _layout_problem(infos: list[zipfile.ZipInfo]) -> str | None:
    """Why the members cannot all be written side by side (a path given twice, or a file where another member
    needs a folder), else None; paths are compared as they will be written (``a//b``, ``./a/b`` and ``a/b`` are one)."""
    files, folders = set(), set()
    for info in infos:
        parts = _member_parts(info)
        folders.update(parts[:i] for i in range(1, len(parts)))
        if info.is_dir():
            folders.add(parts)
        elif parts in files:
            return f"duplicate member {info.filename!r}"
        else:
            files.add(parts)
    if clash := files & folders:
        return f"member {'/'.join(min(clash))!r} is both a file and a folder"
    return None


def _checked_members(zf: zipfile.ZipFile, name: str, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    """The files of ``zf`` once every member passed the checks of :func:`extract_zip`."""
    infos = zf.infolist()
    for problem in (*map(_member_problem, infos), _layout_problem(infos)):
        if problem:
            raise UploadError(f"{name}: {problem}; nothing extracted")
    files = [i for i in infos if not i.is_dir()]
    if sum(i.file_size for i in files) > limits.max_unzipped_bytes:
        raise UploadError(f"{name}: too large once extracted (limit {limits.max_unzipped_bytes >> 20} MiB)", 413)
    if not files:
        raise UploadError(f"{name}: the zip holds no files")
    return files


def extract_zip(archive: Path, target: Path, limits: UploadLimits) -> int:
    """Extract the regular files of ``archive`` below ``target``; returns how many.

    Every member is checked before anything is written: at most ``limits.max_zip_members`` entries (counted from
    the end records and the central directory before :class:`zipfile.ZipFile` parses it), no absolute or ``..``
    paths, no names too long for the file system, no links, no path given twice or both a file and a folder, and
    at most ``limits.max_unzipped_bytes`` in all (by the headers, then again while writing, since a header may lie).

    Raises:
        UploadError: not a zip, unsafe member, too many or too large members, no files; one line, no server path.
    """
    name = archive.name
    _check_entry_count(archive, limits)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:  # ValueError: bad UTF-8 name
        raise UploadError(f"{name}: not a readable zip file ({_reason(e)})") from e
    with zf:
        files = _checked_members(zf, name, limits)
        budget = limits.max_unzipped_bytes
        for info in files:
            dst = target.joinpath(*_member_parts(info))
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    budget -= _copy_capped(src, dst, budget, f"{name} (extracted)")
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error, lzma.LZMAError) as e:
                # RuntimeError: encrypted member or unsupported compression (NotImplementedError)
                raise UploadError(f"{name}: member {info.filename!r} cannot be extracted ({_reason(e)})") from e
    return len(files)
