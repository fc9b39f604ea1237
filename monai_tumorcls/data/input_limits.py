"""What an input may be and how much of it is read: the caps of every reader in one place, and the only way the
readers open a file.

Only regular files are read. A folder entry is examined with ``lstat`` (and, for a symbolic link, ``stat`` of its
target) before anything opens it: a named pipe (FIFO) would block the run forever, a device such as ``/dev/zero``
never ends, a socket cannot be read. They get a one-line reason instead (:func:`entry_problem`). A file is then
opened without blocking and checked again on the open descriptor (an entry swapped after the check is caught), and
no more than a cap of bytes is ever read from it, whatever ``stat`` said (:func:`open_capped`, :func:`read_capped`).

Nothing here imports the rest of the package (the readers, the folder scanners and the datalists all use it).
"""

from __future__ import annotations

import errno
import io
import os
import stat

__all__ = [
    "MAX_IMAGE_FILE_BYTES",
    "MAX_DICOM_FILE_BYTES",
    "MAX_NIFTI_FILE_BYTES",
    "MAX_NIFTI_DATA_BYTES",
    "MAX_INPUT_FILE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_VOXELS",
    "entry_problem",
    "is_regular_file",
    "open_capped",
    "read_capped",
    "read_head",
]

#: a 2D PNG/JPEG file (a 67-megapixel 16-bit RGBA PNG stored raw is 512 MiB, but a real one compresses well below)
MAX_IMAGE_FILE_BYTES = 256 * 2**20
#: one DICOM file: a multi-frame file of DEFAULT_MAX_VOXELS 16-bit voxels is 200 MB, with room for 32-bit pixels
MAX_DICOM_FILE_BYTES = 512 * 2**20
#: one NIfTI file as stored (compressed or not)
MAX_NIFTI_FILE_BYTES = 2**30
#: the uncompressed NIfTI stream read (header, extensions and voxels; DEFAULT_MAX_VOXELS float64 voxels fit)
MAX_NIFTI_DATA_BYTES = 2**30
#: any input file (a hashed file is streamed, never held in memory)
MAX_INPUT_FILE_BYTES = max(MAX_IMAGE_FILE_BYTES, MAX_DICOM_FILE_BYTES, MAX_NIFTI_FILE_BYTES)
#: largest ``width * height`` of a 2D image, checked from its header before decoding (67 megapixels)
DEFAULT_MAX_PIXELS = 8192 * 8192
#: largest volume a header may declare (400 MB as float32; a 512 x 512 x 380 MR volume fits), checked before decoding
DEFAULT_MAX_VOXELS = 100_000_000

_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "named pipe (FIFO)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "special file")


def entry_problem(path: str | os.PathLike) -> str | None:
    """Why the entry ``path`` must not be opened as a file, or ``None`` for a regular file or a link to one.

    Looks with ``lstat`` and, for a symbolic link, ``stat`` of its target; never opens anything. Reasons:
    ``"dangling or looping symbolic link"``, ``"symbolic link to a folder, not followed"``, ``"not a regular file
    (named pipe (FIFO)); not opened"`` (socket, character device, block device, folder likewise), ``"not a regular file
    (symbolic link to a character device); not opened"``, ``"cannot be examined (<OS error>)"``.
    """
    try:
        mode = os.lstat(path).st_mode
        link = stat.S_ISLNK(mode)
        if link:
            mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "dangling or looping symbolic link" if os.path.islink(path) else "file not found"
    except OSError as e:  # ELOOP, EACCES on a parent folder, ...
        return "dangling or looping symbolic link" if os.path.islink(path) else f"cannot be examined ({e.strerror})"
    if stat.S_ISREG(mode):
        return None
    if link and stat.S_ISDIR(mode):
        return "symbolic link to a folder, not followed"
    kind = f"symbolic link to a {_kind(mode)}" if link else _kind(mode)
    return f"not a regular file ({kind}); not opened"


def is_regular_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file or a link to one (see :func:`entry_problem`)."""
    return entry_problem(path) is None


def _refuse(path: str | os.PathLike, reason: str) -> Exception:
    # the readers import this module: their error class is imported here, when a file is refused
    from .readers.errors import ImageReadError

    return ImageReadError(path, reason)


def _open_regular(path: str | os.PathLike) -> tuple[int, int]:
    """``(descriptor, size)`` of the regular file ``path``, opened for reading after :func:`entry_problem` and
    without blocking (a FIFO swapped in after the check does not hang the run), checked again with ``fstat``."""
    problem = entry_problem(path)
    if problem == "file not found":  # as open() says it
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))
    if problem is not None:
        raise _refuse(path, problem)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, f"not a regular file ({_kind(info.st_mode)}); not read")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _open_within(path: str | os.PathLike, max_bytes: int, what: str) -> int:
    """The descriptor of the regular file ``path`` (:func:`_open_regular`) when ``fstat`` puts it within ``max_bytes``."""
    fd, size = _open_regular(path)
    if size > max_bytes:
        os.close(fd)
        raise _too_large(path, max_bytes, what, size)
    return fd


def _too_large(path: str | os.PathLike, max_bytes: int, what: str, size: int | None = None) -> Exception:
    """The refusal of a file over ``max_bytes`` (``size`` unknown: it holds more bytes than ``stat`` said)."""
    held = f"{size:,} bytes" if size is not None and size > max_bytes else "more bytes than stat said"
    return _refuse(path, f"{held}, over the limit of {max_bytes:,} bytes for {what}; not read")


class _CappedReader(io.RawIOBase):
    """A read-only raw file that raises when a read would go past ``max_bytes`` (however large ``stat`` said it is).
    Every read goes through :meth:`readinto` (``io.FileIO.read`` would not)."""

    def __init__(self, fd: int, path: str, max_bytes: int, what: str) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self.name, self.max_bytes, self.what = path, max_bytes, what  # name: what pydicom records as the filename

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()

    def readinto(self, buffer) -> int:
        position = self._file.tell()
        view = memoryview(buffer).cast("B")
        # past the cap nothing is read (a seek there, e.g. by a corrupt length, reads as the end of the file)
        n = self._file.readinto(view[: max(self.max_bytes + 1 - position, 0)])
        if n and position + n > self.max_bytes:
            raise _too_large(self.name, self.max_bytes, self.what)
        return n

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._file.close()
        super().close()


def open_capped(path: str | os.PathLike, max_bytes: int, what: str = "a file") -> io.BufferedReader:
    """Open the regular file ``path`` for binary reading; a read past ``max_bytes`` raises.

    The entry is checked before it is opened (:func:`entry_problem`) and again on the open descriptor; its size by
    ``fstat`` must be within ``max_bytes`` too. ``what`` names the limit in messages, e.g. ``"a DICOM file"``.

    Raises:
        ImageReadError: the entry is not a regular file, or holds more than ``max_bytes`` bytes (one line naming
            the file and the problem).
        OSError: the file does not exist (``FileNotFoundError``) or cannot be opened (e.g. permission denied).
    """
    return io.BufferedReader(_CappedReader(_open_within(path, max_bytes, what), os.fspath(path), max_bytes, what))


def read_capped(path: str | os.PathLike, max_bytes: int, what: str = "a file") -> bytes:
    """All bytes of the regular file ``path``: at most ``max_bytes``, or :class:`ImageReadError` (see
    :func:`open_capped`). The file is read in one piece of its size (no buffer of ``max_bytes`` is allocated)."""
    with io.FileIO(_open_within(path, max_bytes, what), "rb", closefd=True) as f:
        size = os.fstat(f.fileno()).st_size
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = f.read(min(max(size - total, 1 << 16), max_bytes + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
    raise _too_large(path, max_bytes, what)


def read_head(path: str | os.PathLike, n_bytes: int) -> bytes:
    """The first ``n_bytes`` (or fewer) of the regular file ``path``; ``b""`` for an entry that is not one or cannot
    be read (the reader that reads the file later says why)."""
    try:
        fd, _ = _open_regular(path)
    except (OSError, ValueError):
        return b""
    with io.FileIO(fd, "rb", closefd=True) as f:
        try:
            return f.read(n_bytes)
        except OSError:
            return b""
