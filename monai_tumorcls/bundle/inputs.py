"""What kind of input a bundle's inference was given: a folder of PNG/JPEG images, or clinical input (DICOM
series, NIfTI volumes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from monai_tumorcls.data.readers.dicom_scan import is_dicom_file, is_nifti_file
from monai_tumorcls.data.input_limits import is_regular_file
from monai_tumorcls.data.own_outputs import is_output_folder

__all__ = ["detect_input_kind", "as_input_list"]


def as_input_list(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """A single path or a sequence of paths as a list of strings."""
    if isinstance(inputs, (str, os.PathLike)):
        return [str(inputs)]
    return [str(p) for p in inputs]


def detect_input_kind(inputs: str | os.PathLike | Sequence[str | os.PathLike], max_files: int = 200) -> str:
    """``"clinical"`` when any input is (or a folder holds) a NIfTI file or a DICOM file (by suffix or the
    ``DICM`` marker), else ``"images"``. At most ``max_files`` files per folder are inspected, and at most 132 bytes of
    each; entries that are not regular files (a FIFO, a device) are never opened, links to folders are not followed
    and the output folder of a run is not looked into (:func:`~monai_tumorcls.data.own_outputs.is_output_folder`).

    Raises:
        FileNotFoundError: an input does not exist.
    """
    for item in as_input_list(inputs):
        path = Path(item)
        if not os.path.lexists(path):
            raise FileNotFoundError(f"{path}: input not found")
        files = _first_files(path, max_files) if path.is_dir() else [path]
        if any(is_nifti_file(f) or is_dicom_file(f) for f in files):
            return "clinical"
    return "images"


def _first_files(folder: Path, max_files: int) -> list[Path]:
    """Up to ``max_files`` regular files below ``folder``, in walk order, outside output folders."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):  # links to folders are not entered
        dirnames[:] = sorted(d for d in dirnames if not is_output_folder(Path(dirpath) / d))
        files += [f for f in (Path(dirpath) / n for n in sorted(filenames)) if is_regular_file(f)]
        if len(files) >= max_files:
            return files[:max_files]
    return files
