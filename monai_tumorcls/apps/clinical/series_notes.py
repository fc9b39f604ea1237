"""What a series result says about how its volume was acquired, read and cut into slices: the geometry fields of a
:class:`~monai_tumorcls.apps.clinical.records.SeriesResult` and the notes on reading and slicing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["series_geometry", "dicom_notes", "volume_notes"]


def series_geometry(meta: dict, shape: Sequence[int], pixel_spacing_mm: Sequence[float]) -> dict:
    """The :class:`SeriesResult` fields saying what a volume is called, how it was acquired, read and sliced."""
    spacing = [round(float(s), 4) for s in np.linalg.norm(np.asarray(meta["affine"])[:3, :3], axis=0)]
    return {
        "description": str(meta.get("description", "")),
        "modality": meta.get("modality", ""),
        "slice_plane": meta.get("slice_plane", "unknown"),
        "acquisition_plane": meta.get("acquisition_plane", "unknown"),
        "resliced": bool(meta.get("resliced", False)),
        "obliquity_deg": float(meta.get("obliquity_deg", 0.0)),
        "ordering": meta.get("ordering", "voxel_order"),
        "volume_shape": [int(s) for s in shape],
        "voxel_spacing_mm": spacing,
        "pixel_spacing_mm": [round(v, 4) for v in pixel_spacing_mm],
    }


def dicom_notes(vol) -> list[str]:
    """Notes on how a DICOM series was read."""
    notes = []
    if vol.dropped:
        notes.append(f"{len(vol.dropped)} file(s) left out: pixel data unreadable")
    if vol.meta.get("ordering") != "position":
        notes.append(f"slices ordered by {vol.meta.get('ordering')} (no usable ImagePositionPatient)")
    if not vol.meta.get("uniform_spacing", True):
        notes.append("non-uniform slice spacing")
    if vol.meta.get("monochrome1"):
        notes.append("MONOCHROME1 inverted")
    return notes


def volume_notes(stack, meta: dict, plane: str) -> list[str]:
    """Notes on how a volume was cut into slices."""
    notes = []
    if stack.resampled:
        notes.append("in-plane resampled to square pixels")
    if meta.get("resliced"):
        notes.append(f"resliced from {meta.get('acquisition_plane')} to {plane}")
    if float(meta.get("obliquity_deg", 0.0)) > 1.0:
        notes.append(f"oblique by {float(meta['obliquity_deg']):.1f} deg (not corrected)")
    if plane == "unknown":
        notes.append("orientation unknown: slices used as stored")
    return notes
