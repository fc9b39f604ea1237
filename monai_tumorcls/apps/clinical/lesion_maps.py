"""The predicted lesion map of a series written in its input's own space: a NIfTI of lesion probabilities on the
stored voxel grid with the input's affine (every series), and for a DICOM series a DICOM SEG referencing its
source images (:func:`write_lesion_seg`, with the run's DICOM results).

The map is computed on display-oriented slices (the reader permuted/flipped the stored axes to the slice plane,
reslicing when the plane is not the acquired one); it is put back on the stored grid by the inverse permutation/
flip (:func:`~monai_tumorcls.data.readers.nifti.restore_stored_orientation`), so a voxel of the map is the voxel of
the input it was computed from. For DICOM the stored grid is (columns, rows, frames in slice order), with the
series' RAS affine: the NIfTI holds no tag value, only the geometry.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

from ...data.readers.nifti import restore_stored_orientation
from ...utils.atomic import atomic_write_bytes
from .lesion import SeriesLesion

__all__ = ["LESION_MAP_SUFFIX", "stored_lesion_map", "write_lesion_nifti", "read_lesion_nifti"]

LESION_MAP_SUFFIX = "_lesion.nii.gz"


def stored_lesion_map(lesion: SeriesLesion, meta: dict) -> tuple[np.ndarray, np.ndarray]:
    """The lesion probabilities of ``lesion`` (on the display-oriented volume of ``meta["affine"]``) on the stored
    voxel grid of the input, and its affine (``meta["original_affine"]``)."""
    stored_affine = np.asarray(meta["original_affine"], dtype=float)
    return restore_stored_orientation(lesion.probabilities, meta["affine"], stored_affine), stored_affine


def write_lesion_nifti(lesion: SeriesLesion, meta: dict, path: Path) -> str:
    """Write the lesion probabilities (float32 in [0, 1]) on the input's stored grid with its affine to ``path``
    (``.nii.gz``, atomically); the in-memory map is then dropped. Returns ``"<folder name>/<file name>"``."""
    data, affine = stored_lesion_map(lesion, meta)
    image = nib.Nifti1Image(data.astype(np.float32), affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header["descrip"] = b"lesion probability (research use only)"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, gzip.compress(image.to_bytes(), mtime=0))
    lesion.probabilities = None  # a run keeps no volume per series in memory
    return f"{path.parent.name}/{path.name}"


def read_lesion_nifti(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(lesion probabilities on the stored grid, affine) of a map written by :func:`write_lesion_nifti`."""
    image = nib.load(str(path))
    return np.asarray(image.get_fdata(dtype=np.float32)), np.asarray(image.affine)
