"""The options of a clinical run, grouped by what they decide (as :class:`~monai_tumorcls.data.readers.
SeriesSelection` groups which series are read): how a series is decided, how volumes are cut into slices, how the
network's outputs become probabilities, and what the run writes.

The dataclasses hold values only; :class:`~monai_tumorcls.apps.clinical.ClinicalInferer` checks them together
(some checks need the class names), so that a bundle config can build them without failing before the run starts
and a refused option still ends the run with one line (exit status 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from os import PathLike
from typing import Any, Sequence

import torch

from ...checkpoint.provenance import Provenance
from ...data.readers import SeriesSelection
from ...checkpoint.lesion_threshold import LESION_THRESHOLD

__all__ = ["SeriesDecisionRule", "SliceOptions", "PredictionOptions", "RunOutputs", "grouped_options"]


@dataclass
class SeriesDecisionRule:
    """How the slice probabilities of a series become one decision
    (:func:`~monai_tumorcls.apps.clinical.aggregation.aggregate_slices`).

    Attributes:
        positive_classes: class names meaning tumour (default: all but "notumor"-like names).
        aggregation: ``max`` | ``top_k_mean`` | ``mean`` (the classifier's slice probabilities), or
            ``lesion_volume`` (a network with a lesion head: the predicted lesion volume, see ``lesion_volume_ml``).
        top_k: k for ``top_k_mean``; for ``lesion_volume`` the slices with the largest lesion areas that contribute.
        threshold: the series is "tumour" when the aggregated tumour probability >= threshold (in [0, 1]).
        lesion_volume_ml: with ``aggregation="lesion_volume"``, the series is "tumour" when its lesion volume (voxels
            with lesion probability >= ``PredictionOptions.lesion_threshold``) is >= this many ml.
    """

    positive_classes: Sequence[str] | None = None
    aggregation: str = "max"
    top_k: int = 3
    threshold: float = 0.5
    lesion_volume_ml: float = 1.0


@dataclass
class SliceOptions:
    """Which series are read and how each is cut into the 2D slices the network sees.

    Attributes:
        selection: which DICOM series are classified (MR, no localizers, >= 5 slices, consistent geometry by
            default). Not applied to NIfTI files.
        slice_axis: ``axial`` | ``coronal`` | ``sagittal`` | ``acquired``; volumes acquired in another plane are
            resliced (axis permutation, no interpolation across slices except ``square_pixels``).
        slice_layout: axis order of the slice given to the preprocessing, as the training images were loaded:
            ``"HW"`` (rows first, NumPy/display order; ``RasterImageReader(reverse_indexing=False)``) or ``"WH"``
            (columns first: MONAI ``PILReader`` / ``RasterImageReader`` default ``reverse_indexing=True``).
        square_pixels: resample slices in-plane to square pixels when the spacings differ.
        pad_to_square: pad slices to H == W with the slice minimum.
        min_foreground_fraction: also exclude slices whose foreground fraction is below this (in [0, 1]; 0 = only
            constant slices are excluded).
    """

    selection: SeriesSelection = field(default_factory=SeriesSelection)
    slice_axis: str = "axial"
    slice_layout: str = "HW"
    square_pixels: bool = True
    pad_to_square: bool = True
    min_foreground_fraction: float = 0.0


@dataclass
class PredictionOptions:
    """How slices go through the network and its outputs become class probabilities.

    Attributes:
        batch_size: slices (or images) per forward pass.
        device: torch device of the network.
        activation: ``softmax`` (logits), ``sigmoid`` (multi-label logits) or ``none`` (already probabilities).
        temperature: logits are divided by it before the activation (the checkpoint's calibration; 1.0 = none).
        saliency_map: what the saliency overlays show: ``auto`` (the predicted lesion map for a network with a
            lesion head, ``forward_lesion``; Grad-CAM otherwise), ``lesion`` or ``grad_cam``.
        saliency_layer: Grad-CAM layer (dotted module name); None: ``features.layer4`` for a classifier,
            ``features.layer3`` for a network with a lesion head (stride 16: cells half as wide as layer4's, fine
            enough to point at a lesion, and the deepest skip its decoder was trained to localise from).
        lesion_threshold: lesion probability from which a pixel counts as lesion (areas, volume, outline).
    """

    batch_size: int = 16
    device: str | torch.device = "cpu"
    activation: str = "softmax"
    temperature: float = 1.0
    saliency_map: str = "auto"
    saliency_layer: str | None = None
    lesion_threshold: float = LESION_THRESHOLD


@dataclass
class RunOutputs:
    """What :meth:`~monai_tumorcls.apps.clinical.ClinicalInferer.run` writes, and where.

    Attributes:
        output_dir: folder of the run's files (created); a run's inputs are never read from it.
        run_name: stem of the clinical report files, ``[A-Za-z0-9][A-Za-z0-9._-]*`` (default
            ``clinical_<UTC time>``). An image-folder run writes ``predictions.json``/``.csv`` whatever it is.
        record_paths: also record input-relative file paths (they may identify a patient; off by default).
        saliency: write a Grad-CAM overlay of every contributing slice (of every classified image) and its peak.
        dicom_results: also write a DICOM SR and Grad-CAM secondary captures per decided DICOM series (implies
            ``saliency``), and for a network with a lesion head a DICOM SEG of the lesion map (implies
            ``lesion_maps``).
        lesion_maps: for a network with a lesion head, write each series' lesion probability map in its input's
            voxel grid as NIfTI (``<run_name>_lesion/<series_id>_lesion.nii.gz``, the input's affine).
        provenance: what produced the results (package, bundle and checkpoint; a bundle's ``provenance``), named in
            every file written with the time of the run; None: the package version only.
    """

    output_dir: str | PathLike | None = None
    run_name: str | None = None
    record_paths: bool = False
    saliency: bool = False
    dicom_results: bool = False
    lesion_maps: bool = True
    provenance: Provenance | None = None


_GROUPS = {"rule": SeriesDecisionRule, "slicing": SliceOptions, "prediction": PredictionOptions, "outputs": RunOutputs}


def grouped_options(**options: Any) -> dict[str, Any]:
    """The keyword arguments of :class:`~monai_tumorcls.apps.clinical.ClinicalInferer` from flat option names
    (``aggregation="mean", batch_size=8``: each goes into the dataclass with that field).

    Raises:
        TypeError: a name no option group has.
    """
    grouped = {}
    for key, group in _GROUPS.items():
        names = {f.name for f in fields(group)}
        grouped[key] = group(**{k: options.pop(k) for k in list(options) if k in names})
    if options:
        raise TypeError(f"unknown clinical inference options {sorted(options)}")
    return grouped
