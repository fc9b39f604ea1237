"""Check slice rankings against a tumour label volume: do tumour slices score above tumour-free slices?"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

from monai_tumorcls.data.readers.nifti import load_nifti_volume
from monai_tumorcls.data.volume_slices import slice_flags
from monai_tumorcls.metrics.classification import roc_auc_binary

__all__ = ["slice_labels_from_volume", "load_slice_labels", "SliceAUC", "tumour_slice_auc"]


def slice_labels_from_volume(label_volume: np.ndarray, min_voxels: int = 1) -> np.ndarray:
    """(N,) True for slices ``label_volume[:, :, k]`` with at least ``min_voxels`` non-zero voxels.

    Args:
        label_volume: (H, W, N) label map in the same layout as the emitted image slices.
        min_voxels: smallest tumour area (voxels) that makes a slice a tumour slice.
    """
    lab = np.asarray(label_volume)
    if lab.ndim != 3:
        raise ValueError(f"expected (H, W, N), got shape {lab.shape}")
    return slice_flags(lab, lab.shape[2], min_voxels=min_voxels, margin=0) == 1


def load_slice_labels(label_file: str | PathLike, plane: str = "axial", min_voxels: int = 1) -> np.ndarray:
    """Per-slice tumour flags of a NIfTI label map read exactly like the image volumes (same plane/layout)."""
    lab, _ = load_nifti_volume(label_file, plane=plane)
    return slice_labels_from_volume(np.rint(lab), min_voxels=min_voxels)


@dataclass
class SliceAUC:
    """Result of :func:`tumour_slice_auc`.

    Attributes:
        auc: ROC AUC of tumour slices vs tumour-free slices (``None`` when one group is empty).
        n_tumour_slices: tumour slices used.
        n_tumour_free_slices: tumour-free slices used.
        n_ignored: slices left out (no probability, e.g. excluded blank slices, or ``ignore_margin``).
    """

    auc: float | None
    n_tumour_slices: int
    n_tumour_free_slices: int
    n_ignored: int


def tumour_slice_auc(
    tumour_probabilities: np.ndarray,
    labels: np.ndarray,
    min_voxels: int = 1,
    ignore_margin: int = 0,
) -> SliceAUC:
    """AUC of per-slice tumour probabilities against per-slice tumour presence.

    Args:
        tumour_probabilities: (N,) per emitted slice; NaN/None for slices that were not classified.
        labels: (N,) bool per slice, or an (H, W, N) label volume in the emitted slice layout.
        min_voxels: with a label volume, smallest tumour area making a slice a tumour slice.
        ignore_margin: with a label volume, also drop tumour-free slices within this many slices of a tumour
            slice (partial-volume borders).
    """
    p = np.asarray([np.nan if v is None else v for v in tumour_probabilities], dtype=np.float64)
    lab = np.asarray(labels)
    if lab.ndim != 3:  # per-slice flags: a (1, 1, N) "label volume" with one voxel per tumour slice
        lab, min_voxels = lab.astype(bool).reshape(1, 1, -1), 1
    if lab.shape[2] != p.shape[0]:
        raise ValueError(f"{p.shape[0]} probabilities but {lab.shape[2]} label slices")
    truth = slice_flags(lab, lab.shape[2], min_voxels=min_voxels, margin=ignore_margin)
    flags = truth == 1
    use = np.isfinite(p) & (truth >= 0)
    auc = roc_auc_binary(flags[use], p[use])
    return SliceAUC(auc, int((flags & use).sum()), int((~flags & use).sum()), int((~use).sum()))
