"""Labelled 2D training slices cut from 3D volumes (NIfTI with a tumour label map, or tumour-free DICOM series).

The slices are cut exactly as bundle inference cuts them (:func:`monai_tumorcls.data.slicing.volume_to_slices`:
display orientation, square pixels, padded to a square, original intensities), so a model trained on them sees
the same input as at inference. Every item carries its ``group`` (the patient), the unit of any split: slices of
one patient are never on both sides.

Slice labels (:func:`flags_from_areas`, the one rule for volumes and the LGG slices): a slice with at least
``min_voxels`` label voxels is a tumour slice; a slice with fewer, but some, label voxels and a tumour-free slice
within ``margin`` slices of one with label voxels are left out (partial volume at the tumour border); constant
slices (no signal) are left out, as inference leaves them out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor

from monai_tumorcls.utils.deprecation import moved_names

from .readers.dicom_scan import scan_dicom_folder
from .readers.dicom import load_dicom_series
from .readers.errors import ImageReadError
from .readers.nifti import load_nifti_volume
from .readers.series_selection import SeriesSelection, select_series
from .slicing import volume_to_slices

logger = logging.getLogger(__name__)

# the volumes of the shared data folder are a data set: they moved to data.datasets; the old name warns for one release
__getattr__ = moved_names(__name__, "monai_tumorcls.data.datasets.shared_volumes", ["SHARED_LABELLED_VOLUMES"])

__all__ = [
    "LabelledVolume",
    "volume_groups",
    "load_display_volume",
    "flags_from_areas",
    "slice_flags",
    "volume_slice_items",
    "volume_slice_datalist",
]


@dataclass(frozen=True)
class LabelledVolume:
    """One volume with slice-level truth.

    Attributes:
        image: NIfTI file or DICOM folder (one MR series), relative to the data root or absolute.
        group: patient identifier; splits never separate the slices of one group.
        label: NIfTI label map on the same voxel grid as ``image`` (non-zero = tumour); ``None`` means the whole
            volume is tumour-free (e.g. a healthy volunteer).
        description: what the volume and its label are (for reports).
    """

    image: str
    group: str
    label: str | None = None
    description: str = ""


def volume_groups(volumes: Iterable[LabelledVolume]) -> list[str]:
    """The distinct groups of ``volumes``, in first-seen order."""
    return list(dict.fromkeys(v.group for v in volumes))


def _resolve(path: str, root: str | PathLike | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or root is None else Path(root) / p


def load_display_volume(path: str | PathLike, plane: str = "axial") -> tuple[np.ndarray, dict]:
    """Read a NIfTI file or a DICOM folder (its one selected MR series) as inference reads it.

    Args:
        path: ``.nii``/``.nii.gz`` file or a folder holding one MR series.
        plane: slicing plane (see :func:`monai_tumorcls.data.readers.nifti.reorient_to_plane`).

    Returns:
        ``(volume, meta)``: volume (H, W, N) float32 display-oriented slices, meta with ``affine`` and
        ``slice_plane``.

    Raises:
        ImageReadError: unreadable input, or a folder without exactly one selectable MR series.
    """
    p = Path(path)
    if p.is_dir():
        scan = scan_dicom_folder(p)
        selected, rejected = select_series(scan.series, SeriesSelection())
        if len(selected) != 1:
            reasons = "; ".join(reason for _, reason in rejected) or "no DICOM series found"
            raise ImageReadError(p, f"expected one selectable MR series, found {len(selected)} ({reasons})")
        vol = load_dicom_series(selected[0], plane=plane)
        return vol.array, vol.meta
    return load_nifti_volume(p, plane=plane)


def flags_from_areas(areas: Sequence[int] | np.ndarray, min_voxels: int = 1, margin: int = 2) -> np.ndarray:
    """Per-slice truth from per-slice tumour areas: 1 = tumour, 0 = tumour-free, -1 = edge slice (left out).

    A slice with at least ``min_voxels`` tumour voxels is a tumour slice. Edge slices: a slice with fewer, but some,
    tumour voxels (the tumour's tip), and a tumour-free slice within ``margin`` slices of a slice with any tumour
    voxel (partial volume at the tumour border). With ``min_voxels=1`` only the second kind exists.

    Args:
        areas: (N,) tumour voxels per slice.
        min_voxels: smallest tumour area that makes a slice a tumour slice.
        margin: tumour-free slices this close to a slice with tumour are left out.

    Returns:
        (N,) int8.
    """
    area = np.asarray(areas).reshape(-1)
    tumour = area >= min_voxels
    flags = tumour.astype(np.int8)
    any_tumour = area > 0
    flags[any_tumour & ~tumour] = -1
    if margin > 0 and any_tumour.any():
        idx = np.flatnonzero(any_tumour)
        dist = np.abs(np.arange(area.size)[:, None] - idx[None, :]).min(axis=1)
        flags[(~any_tumour) & (dist <= margin)] = -1
    return flags


def slice_flags(label_volume: np.ndarray | None, n_slices: int, min_voxels: int = 1, margin: int = 2) -> np.ndarray:
    """Per-slice truth of a label map: :func:`flags_from_areas` of its per-slice tumour areas.

    Args:
        label_volume: (H, W, N) label map in the slice layout of the image, or ``None`` (all tumour-free).
        n_slices: N, checked against the label map.
        min_voxels: smallest tumour area (voxels) that makes a slice a tumour slice.
        margin: tumour-free slices this close to a tumour slice are left out.

    Returns:
        (N,) int8: 1 = tumour, 0 = tumour-free, -1 = left out.
    """
    if label_volume is None:
        return np.zeros(n_slices, dtype=np.int8)
    lab = np.asarray(label_volume)
    if lab.ndim != 3 or lab.shape[2] != n_slices:
        raise ValueError(f"label map of shape {lab.shape} does not match {n_slices} image slices")
    return flags_from_areas((lab.reshape(-1, n_slices) > 0).sum(axis=0), min_voxels, margin)


def volume_slice_items(
    volume: LabelledVolume,
    root: str | PathLike | None,
    class_names: Sequence[str],
    tumour_class: str,
    normal_class: str = "notumor",
    plane: str = "axial",
    min_voxels: int = 1,
    margin: int = 2,
) -> list[dict]:
    """Labelled slices of one volume as datalist items ready for a bundle's ``prepare`` transforms.

    Args:
        volume: the volume and its truth.
        root: folder the relative paths of ``volume`` are relative to (the data root).
        class_names: the bundle's class names (label = index in this list).
        tumour_class: class name of tumour slices (``tumor`` for binary bundles; e.g. ``glioma`` for 4-class).
        normal_class: class name of tumour-free slices.
        plane: slicing plane, as at inference.
        min_voxels: see :func:`slice_flags`.
        margin: see :func:`slice_flags`.

    Returns:
        one dict per kept slice: ``image`` MetaTensor (1, H, W) float32 in original intensities (2D affine = pixel
        spacing, like inference), ``label`` (int), ``class_name``, ``group``, ``volume`` (the path as given),
        ``slice_index``.

    Raises:
        ImageReadError: unreadable image or label map.
        ValueError: unknown class names, or a label map that does not match the image.
    """
    names = [str(c) for c in class_names]
    for c in (tumour_class, normal_class):
        if c not in names:
            raise ValueError(f"class {c!r} is not one of {names}")
    image, meta = load_display_volume(_resolve(volume.image, root), plane=plane)
    labels = None
    if volume.label is not None:
        labels, _ = load_nifti_volume(_resolve(volume.label, root), plane=plane)
        if labels.shape != image.shape:
            raise ValueError(f"{volume.label}: label map {labels.shape} does not match image {image.shape}")
    stack = volume_to_slices(image, meta["affine"], meta.get("slice_plane", plane))
    flags = slice_flags(None if labels is None else np.rint(labels), image.shape[2], min_voxels, margin)
    affine = torch.diag(torch.tensor([*stack.pixel_spacing_mm, 1.0], dtype=torch.float64))
    label_of = {1: names.index(tumour_class), 0: names.index(normal_class)}
    items = []
    for k in np.flatnonzero((flags >= 0) & ~stack.constant):
        items.append(
            {
                "image": MetaTensor(torch.from_numpy(np.ascontiguousarray(stack.images[k])[None]), affine=affine.clone()),
                "label": label_of[int(flags[k])],
                "class_name": tumour_class if flags[k] == 1 else normal_class,
                "group": volume.group,
                "volume": volume.image,
                "slice_index": int(k),
            }
        )
    return items


def volume_slice_datalist(
    volumes: Sequence[LabelledVolume],
    root: str | PathLike | None,
    class_names: Sequence[str],
    tumour_class: str,
    holdout_groups: Sequence[str] = (),
    normal_class: str = "notumor",
    **slicing: Any,
) -> list[dict]:
    """Labelled slices of every volume whose group is not held out.

    Args:
        volumes: the labelled volumes.
        root, class_names, tumour_class, normal_class: as for :func:`volume_slice_items`.
        holdout_groups: groups (patients) whose volumes are left out entirely; each must exist in ``volumes``.
        slicing: ``plane``, ``min_voxels``, ``margin`` of :func:`volume_slice_items` (passed on as they are).

    Returns:
        the items of :func:`volume_slice_items`, volume after volume.

    Raises:
        ValueError: a held-out group that no volume has (a typo would otherwise leak that patient into training).
    """
    extra = sorted(set(slicing) - {"plane", "min_voxels", "margin"})
    if extra:  # at the call, as for a named parameter, not at the first volume
        raise TypeError(f"volume_slice_datalist() got an unexpected keyword argument {extra[0]!r}")
    known = set(volume_groups(volumes))
    unknown = [g for g in holdout_groups if g not in known]
    if unknown:
        raise ValueError(f"holdout_groups {unknown} are not groups of the volumes ({sorted(known)})")
    items: list[dict] = []
    for v in volumes:
        if v.group not in holdout_groups:
            new = volume_slice_items(v, root, class_names, tumour_class, normal_class, **slicing)
            n_tumour = sum(it["class_name"] == tumour_class for it in new)
            logger.info("slices of %s (group %s): %d %s, %d %s", v.image, v.group, n_tumour, tumour_class,
                        len(new) - n_tumour, normal_class)
            items.extend(new)
    logger.info("volume slices: %d from groups %s; held out: %s", len(items),
                [g for g in volume_groups(volumes) if g not in holdout_groups], list(holdout_groups) or "none")
    return items
