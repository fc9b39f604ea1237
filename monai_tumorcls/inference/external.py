"""Moved to :mod:`monai_tumorcls.apps.validation.external` (research validation, apart from the clinical product);
the old names warn for one release. ``position_matched_auc(scores, labels, position)`` is now
:func:`monai_tumorcls.metrics.position_matched_auc` ``(is_positive, score, position)``, ``None`` where undefined;
``external_validation`` takes :class:`~monai_tumorcls.apps.validation.HeldOutPeople` and
:class:`~monai_tumorcls.apps.validation.ExternalSettings` (``positive_classes`` instead of ``tumour_class``)."""

from __future__ import annotations

import warnings

import numpy as np

from monai_tumorcls.metrics.classification import position_matched_auc as _position_matched_auc
from monai_tumorcls.utils.deprecation import moved_names

_NEW = "monai_tumorcls.apps.validation.external"
__getattr__ = moved_names(__name__, _NEW, [
    "predict_probabilities", "position_prior", "slice_report", "choose_threshold", "external_markdown",
])
#: keyword arguments of the old flat ``external_validation`` -> the dataclass that holds them now
_PEOPLE_KEYS = ("other_healthy", "other_healthy_root")
_SETTINGS_KEYS = ("top_k", "batch_size", "device", "saliency", "target_layer", "overlay_dir")


def _warn(old: str, new: str) -> None:
    warnings.warn(f"monai_tumorcls.inference.external.{old} moved to {new}; the old name goes in the next release",
                  FutureWarning, stacklevel=3)


def series_scores(groups, probabilities, class_names, tumour_class: str, top_k: int = 3) -> dict[str, float]:
    """Deprecated: :func:`monai_tumorcls.apps.validation.series_scores` with ``positive_classes=[tumour_class]``."""
    _warn("series_scores(..., tumour_class)", f"{_NEW}.series_scores(..., positive_classes)")
    from monai_tumorcls.apps.validation.external import series_scores as new

    return new(groups, probabilities, class_names, [tumour_class], top_k)


def external_validation(network, lgg, ixi, lgg_transform, volume_transform, class_names, output_dir, **options):
    """Deprecated: the old flat signature of :func:`monai_tumorcls.apps.validation.external_validation`
    (``tumour_class="tumor"``, ``top_k``, ``batch_size``, ``device``, ``saliency``, ``target_layer``,
    ``overlay_dir``, ``other_healthy``, ``other_healthy_root``, ``extra`` as keywords)."""
    _warn("external_validation(...)", f"{_NEW}.external_validation(network, HeldOutPeople, ..., ExternalSettings)")
    from monai_tumorcls.apps.validation.external import ExternalSettings, HeldOutPeople
    from monai_tumorcls.apps.validation.external import external_validation as new

    people = HeldOutPeople(lgg, ixi, lgg_transform, volume_transform,
                           **{k: options.pop(k) for k in _PEOPLE_KEYS if k in options})
    settings = ExternalSettings(positive_classes=[options.pop("tumour_class", "tumor")],
                                **{k: options.pop(k) for k in _SETTINGS_KEYS if k in options})
    return new(network, people, class_names, output_dir, settings, **options)


def position_matched_auc(scores: np.ndarray, labels: np.ndarray, position: np.ndarray, n_bins: int = 5) -> float:
    """Deprecated: :func:`monai_tumorcls.metrics.position_matched_auc` with the truth first, NaN for ``None``."""
    # a plain alias would swap the arguments silently: this keeps the old order and the old NaN for one release
    warnings.warn("monai_tumorcls.inference.external.position_matched_auc(scores, labels, position) moved to "
                  "monai_tumorcls.metrics.position_matched_auc(is_positive, score, position), which returns None "
                  "where undefined; the old name goes in the next release", FutureWarning, stacklevel=2)
    auc = _position_matched_auc(labels, scores, position, n_bins)
    return float("nan") if auc is None else auc
