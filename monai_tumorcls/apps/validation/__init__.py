"""Research validation of a trained classifier: held-out people (LGG patients, IXI subjects: ``external``) and slice
rankings against tumour label volumes (``evaluation``). Public names are listed once, in each module's ``__all__``,
and imported here."""

from .evaluation import SliceAUC, load_slice_labels, slice_labels_from_volume, tumour_slice_auc
from .lesion import NominalGeometry, SliceOutputs, lesion_volume_scores, predict_outputs, segmentation_summary
from .series import SERIES_RULES, choose_series_rule, rule_scores
from .external import (
    ExternalSettings,
    HeldOutPeople,
    choose_threshold,
    external_markdown,
    external_validation,
    position_prior,
    predict_probabilities,
    series_scores,
    slice_report,
)

__all__ = [
    "SERIES_RULES",
    "ExternalSettings",
    "HeldOutPeople",
    "NominalGeometry",
    "SliceOutputs",
    "SliceAUC",
    "choose_series_rule",
    "choose_threshold",
    "external_markdown",
    "external_validation",
    "lesion_volume_scores",
    "load_slice_labels",
    "position_prior",
    "predict_outputs",
    "predict_probabilities",
    "rule_scores",
    "segmentation_summary",
    "series_scores",
    "slice_labels_from_volume",
    "slice_report",
    "tumour_slice_auc",
]
