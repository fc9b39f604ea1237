"""The predicted lesion map of a series as evidence (a network with a lesion head, e.g.
:class:`~monai_tumorcls.networks.LesionClassifier`): its per-slice area and peak, the series' lesion volume, slice
range and peak, and the lesion-volume series decision (``SeriesDecisionRule(aggregation="lesion_volume")``).

The map is measured on the volume's own voxel grid (display-oriented, before in-plane resampling and padding), so
that a pixel is a voxel of the series as read and mm² / ml follow from its spacing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...data.slicing import SliceStack, slices_to_volume
from .aggregation import SeriesDecision, aggregate_slices

__all__ = ["LESION_VOLUME", "SeriesLesion", "SliceLesion", "measure_lesion", "lesion_on_volume",
           "lesion_volume_decision", "image_lesion"]

#: the aggregation name of the lesion-volume series decision
LESION_VOLUME = "lesion_volume"


@dataclass
class SliceLesion:
    """The lesion on one slice: pixels with lesion probability >= the threshold, their area in mm² (None when the
    pixel spacing is unknown), and the peak (row, column as fractions of the slice; its probability)."""

    area_px: int
    area_mm2: float | None
    peak: dict[str, float]


@dataclass
class SeriesLesion:
    """The lesion of a series.

    Attributes:
        threshold: lesion probability from which a voxel counts as lesion.
        n_voxels: lesion voxels.
        volume_ml: their volume in ml (None when the spacing is unknown).
        slice_range: first and last slice index with lesion voxels (None: none).
        peak: the most probable voxel: ``slice_index``, ``row`` and ``col`` (fractions of the slice), ``probability``.
        map_file: the written lesion map, relative to the run's output folder (None: not written).
        probabilities: (H, W, N) lesion probabilities on the display-oriented volume grid (kept in memory only, for
            the map writers; never serialised).
        stored_frames: for a DICOM series, ``(file_id, frame)`` of each stored frame in the map's frame order (for
            its DICOM SEG; never serialised).
    """

    threshold: float
    n_voxels: int
    volume_ml: float | None
    slice_range: list[int] | None
    peak: dict[str, float] | None
    map_file: str | None = None
    probabilities: np.ndarray | None = field(default=None, repr=False)
    stored_frames: list[tuple[str, int | None]] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "n_voxels": self.n_voxels, "volume_ml": self.volume_ml,
                "slice_range": self.slice_range, "peak": self.peak, "map_file": self.map_file}


def _peak(prob: np.ndarray) -> dict[str, float]:
    """The maximum of an (H, W) map as fractions of its height and width (resolution-independent, like the
    saliency peaks) and its value."""
    r, c = np.unravel_index(int(np.argmax(prob)), prob.shape)
    return {"row": round(float(r) / prob.shape[0], 4), "col": round(float(c) / prob.shape[1], 4),
            "probability": round(float(prob[r, c]), 6)}


def measure_lesion(
    probabilities: np.ndarray, spacing_mm: Sequence[float], spacing_known: bool, threshold: float = 0.5
) -> tuple[SeriesLesion, list[SliceLesion]]:
    """The series' lesion and each slice's, from lesion probabilities on the volume grid.

    Args:
        probabilities: (H, W, N) lesion probability per voxel (0 where a slice was not classified).
        spacing_mm: (row, column, slice) voxel spacing.
        spacing_known: False when the spacing is a default (no PixelSpacing): no mm² and no ml.
        threshold: lesion probability from which a voxel counts.
    """
    lesion = probabilities >= threshold
    areas = lesion.reshape(-1, lesion.shape[2]).sum(axis=0)
    pixel_mm2 = float(spacing_mm[0] * spacing_mm[1]) if spacing_known else None
    slices = [SliceLesion(int(a), round(a * pixel_mm2, 4) if pixel_mm2 is not None else None,
                          _peak(probabilities[:, :, k])) for k, a in enumerate(areas)]
    with_lesion = np.flatnonzero(areas)
    k_peak = int(np.argmax(probabilities.reshape(-1, lesion.shape[2]).max(axis=0)))
    peak = {"slice_index": k_peak, **slices[k_peak].peak} if lesion.any() else None
    volume = float(areas.sum()) * pixel_mm2 * float(spacing_mm[2]) / 1000.0 if pixel_mm2 is not None else None
    series = SeriesLesion(
        threshold=float(threshold), n_voxels=int(areas.sum()),
        volume_ml=round(volume, 4) if volume is not None else None,
        slice_range=[int(with_lesion[0]), int(with_lesion[-1])] if len(with_lesion) else None,
        peak=peak, probabilities=probabilities,
    )
    return series, slices


def image_lesion(probability: np.ndarray, original_shape, threshold: float) -> dict:
    """The lesion fields of an image file's row from its (H, W) lesion map at the network input's size: the area
    in pixels of the image as read (``original_shape``, its spatial shape before the resize; None: the input's),
    and the peak (fractions of height and width, its probability). No mm²: an image file has no spacing."""
    count = int((probability >= threshold).sum())
    scale = float(np.prod(original_shape)) / probability.size if original_shape is not None else 1.0
    return {"lesion_area_px": int(round(count * scale)), "lesion_peak": _peak(probability)}


def lesion_on_volume(
    slice_maps: np.ndarray, stack: SliceStack, in_plane_shape: tuple[int, int], meta: dict, threshold: float
) -> tuple[SeriesLesion, list[SliceLesion]]:
    """:func:`measure_lesion` of the lesion maps of the slices of ``stack`` ((N, S, S), at the size of
    ``stack.images``), put back on the grid of the volume they were cut from ((H, W) = ``in_plane_shape``;
    ``meta``: its reader's, with the display ``affine`` and, for DICOM, ``pixel_spacing_known``)."""
    probabilities = slices_to_volume(slice_maps, stack, in_plane_shape)
    spacing = np.linalg.norm(np.asarray(meta["affine"], dtype=float)[:3, :3], axis=0)
    return measure_lesion(probabilities, spacing, bool(meta.get("pixel_spacing_known", True)), threshold)


def lesion_volume_decision(
    probabilities: np.ndarray, class_names: Sequence[str], positive_classes: Sequence[str], valid: np.ndarray,
    lesion: SeriesLesion, areas_px: Sequence[int], rule,
) -> SeriesDecision:
    """The series is "tumour" when its lesion volume is >= ``rule.lesion_volume_ml``. The classifier still gives
    the tumour probability (its highest slice) and the class; the contributing slices are the ``rule.top_k``
    slices with the largest lesion areas (the classifier's highest slice when there is no lesion), so that the
    overlays and the SR point at the lesion.

    A broken model (no classifier decision) or an unknown spacing (no volume) decides nothing.
    """
    decision = aggregate_slices(probabilities, class_names, positive_classes, valid, "max", rule.top_k, rule.threshold)
    if decision.is_tumour is None or lesion.volume_ml is None:
        return SeriesDecision(LESION_VOLUME, rule.top_k, rule.threshold, None, None, None, None, [], 0,
                              lesion_volume_ml=float(rule.lesion_volume_ml))
    is_tumour = lesion.volume_ml >= float(rule.lesion_volume_ml)
    areas = np.asarray(areas_px)
    ranked = [int(k) for k in np.argsort(-areas, kind="stable")[: rule.top_k] if areas[k] > 0]
    mean_probs = decision.class_probabilities
    pool = [c for c in class_names if (c in positive_classes) == is_tumour] or list(class_names)
    return SeriesDecision(
        method=LESION_VOLUME, top_k=rule.top_k, threshold=rule.threshold,
        tumour_probability=decision.tumour_probability, is_tumour=bool(is_tumour),
        predicted_class=max(pool, key=lambda c: mean_probs[c]), class_probabilities=mean_probs,
        contributing_slices=ranked or decision.contributing_slices, n_valid_slices=decision.n_valid_slices,
        lesion_volume_ml=float(rule.lesion_volume_ml),
    )
