"""What kind of input a bundle's inference was given: a folder of PNG/JPEG images, or clinical input (DICOM
series, NIfTI volumes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from monai_tumorcls.data.dicom_series import is_dicom_file, is_nifti_file

__all__ = ["detect_input_kind", "as_input_list"]


def as_input_list(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """A single path or a sequence of paths as a list of strings."""
    if isinstance(inputs, (str, os.PathLike)):
        return [str(inputs)]
    return [str(p) for p in inputs]


def detect_input_kind(inputs: str | os.PathLike | Sequence[str | os.PathLike], max_files: int = 200) -> str:
    """``"clinical"`` when any input is (or a folder holds) a NIfTI file or a DICOM file (by suffix or the
    ``DICM`` marker), else ``"images"``. At most ``max_files`` files per folder are inspected.

    Raises:
        FileNotFoundError: an input does not exist.
    """
    for item in as_input_list(inputs):
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"{path}: input not found")
        files = [path] if path.is_file() else []
        if path.is_dir():
            for n, f in enumerate(p for p in path.rglob("*") if p.is_file()):
                if n >= max_files:
                    break
                files.append(f)
        if any(is_nifti_file(f) or is_dicom_file(f) for f in files):
            return "clinical"
    return "images"
