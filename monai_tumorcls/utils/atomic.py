"""Atomic file writes: write to a temporary file in the same folder, fsync, then ``os.replace``.

A reader never sees a half-written report, CSV or checkpoint: either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import socket
import tempfile
from pathlib import Path
from typing import IO, Iterator, Mapping

import torch

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_texts",
    "atomic_torch_save",
    "is_out_of_space",
    "remove_orphan_temps",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    # the host name keeps one machine from judging another's writers on a shared file system
    return f".{path.name}.{socket.gethostname()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_orphan_temps(path: str | os.PathLike) -> list[Path]:
    """Delete temporary files of ``path`` left by writers of this host that died mid-write (e.g. SIGKILL).

    A writer's temp file is ``.<name>.<host>.<pid>.<random>.tmp``; files of live processes are left alone.
    """
    path = Path(path)
    prefix = _temp_prefix(path)
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = tmp.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Context manager yielding a file object whose content replaces ``path`` only on success.

    Args:
        path: destination file; its parent folder is created.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: text encoding (ignored for binary mode).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def atomic_write_texts(texts: Mapping[str | os.PathLike, str]) -> list[Path]:
    """Write several files as one set: every file is written and synced to its temporary file before any replaces
    its destination, so a failure (e.g. a full disk) leaves all of them as they were, never some new and some old."""
    with contextlib.ExitStack() as stack:
        for path, text in texts.items():
            f = stack.enter_context(atomic_write(path, "w"))
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return [Path(p) for p in texts]


def is_out_of_space(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) says the disk or the user's quota is full."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__ or error.__context__
    return False


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_torch_save(obj, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (tensors/state dicts only, so ``weights_only=True`` loads it)."""
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)
    return Path(path)
