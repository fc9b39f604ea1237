"""Moved to :mod:`monai_tumorcls.apps.validation.evaluation` (research validation, apart from the clinical product);
the old names warn for one release. ``roc_auc(scores, labels)`` is now
:func:`monai_tumorcls.metrics.roc_auc_binary` ``(is_positive, score)``, ``None`` where undefined."""

from __future__ import annotations

import warnings

import numpy as np

from monai_tumorcls.metrics.classification import roc_auc_binary
from monai_tumorcls.utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.validation.evaluation", [
    "slice_labels_from_volume", "load_slice_labels", "SliceAUC", "tumour_slice_auc",
])


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Deprecated: :func:`monai_tumorcls.metrics.roc_auc_binary` with the arguments swapped, NaN for ``None``."""
    # a plain alias would swap the arguments silently: this keeps the old order and the old NaN for one release
    warnings.warn("monai_tumorcls.inference.evaluation.roc_auc(scores, labels) moved to "
                  "monai_tumorcls.metrics.roc_auc_binary(is_positive, score), which returns None where undefined; "
                  "the old name goes in the next release", FutureWarning, stacklevel=2)
    auc = roc_auc_binary(labels, scores)
    return float("nan") if auc is None else auc
