"""This package's own output files, and how the input scanners recognise them: outputs are never inputs.

A second run over a folder that holds the outputs of a first one (``--output_dir`` inside ``--input_dir``, or outputs
copied next to the images) must not classify its Grad-CAM overlays as patients. What marks an output:

* a folder a run wrote to holds the run's lock file :data:`OUTPUT_FOLDER_MARKER` (left there on purpose): it is not
  scanned;
* a Grad-CAM overlay PNG carries the text chunk :data:`PNG_TEXT` (:func:`~monai_tumorcls.visualize.saliency.
  overlay_png`);
* a DICOM SR or secondary capture written by :mod:`monai_tumorcls.apps.clinical.dicom_results` has Manufacturer
  :data:`DICOM_MANUFACTURER`;
* a predictions table or a clinical run's report starts with its own header.

Such an entry is recorded as ``"skipped: an output of monai_tumorcls (<what>)"`` (:func:`skip_reason`): accounted
for, not classified, not a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

from .input_limits import read_head

__all__ = [
    "OUTPUT_FOLDER_MARKER",
    "DICOM_MANUFACTURER",
    "PNG_TEXT",
    "SKIPPED_OUTPUT",
    "is_output_folder",
    "own_output_kind",
    "is_own_dicom",
    "skip_reason",
]

#: the lock file every run leaves in its output folder (``monai_tumorcls.bundle.LOCK_FILE``, the same name)
OUTPUT_FOLDER_MARKER = ".monai_tumorcls.lock"
#: Manufacturer (0008,0070) of the DICOM SR and secondary captures this package writes
DICOM_MANUFACTURER = "monai-tumorcls"
#: (keyword, text) of the PNG tEXt chunk of every Grad-CAM overlay
PNG_TEXT = ("Software", "monai-tumorcls Grad-CAM overlay")
SKIPPED_OUTPUT = "skipped: an output of monai_tumorcls"

_HEAD_BYTES = 4096  # Pillow writes text chunks right after the PNG header, before the pixels
_PNG_MARK = b"\x89PNG\r\n\x1a\n", b"tEXt" + PNG_TEXT[0].encode() + b"\x00" + PNG_TEXT[1].encode()
_TABLE_HEADS = (  # how each written table starts (handlers.PredictionWriter, inference.records)
    (b"file,status,predicted,", "predictions table"),
    (b'{\n  "num_files": ', "predictions table"),
    (b"series_index,series_id,input_index,", "clinical slice table"),
    (b'{\n  "schema_version": ', "clinical run report"),
)


def skip_reason(kind: str) -> str:
    """The record of an output met as an input, e.g. ``"skipped: an output of monai_tumorcls (Grad-CAM overlay)"``."""
    return f"{SKIPPED_OUTPUT} ({kind})"


def is_output_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is the output folder of a run (it holds :data:`OUTPUT_FOLDER_MARKER`)."""
    return os.path.lexists(Path(folder) / OUTPUT_FOLDER_MARKER)


def own_output_kind(path: str | os.PathLike) -> str | None:
    """What output of this package the file ``path`` is (``"Grad-CAM overlay"``, ``"predictions table"``, ...), from
    its name and first bytes, or ``None``. Reads at most a few KiB of a regular file; opens nothing else."""
    if Path(path).name == OUTPUT_FOLDER_MARKER:
        return "run lock file"
    head = read_head(path, _HEAD_BYTES)
    if head.startswith(_PNG_MARK[0]) and _PNG_MARK[1] in head:
        return "Grad-CAM overlay"
    return next((kind for start, kind in _TABLE_HEADS if head.startswith(start)), None)


def is_own_dicom(dataset) -> bool:
    """Whether a pydicom dataset (its header is enough) was written by this package (DICOM SR, secondary capture);
    ``False`` when its Manufacturer element cannot be read (a corrupt file is not one of ours)."""
    try:
        return str(dataset.get("Manufacturer", "") or "") == DICOM_MANUFACTURER
    except Exception:  # noqa: BLE001 - pydicom raises many types on a corrupt element
        return False
