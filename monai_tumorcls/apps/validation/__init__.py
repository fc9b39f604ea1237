"""Research validation of a trained classifier: held-out people (LGG patients, IXI subjects: ``external``) and slice
rankings against tumour label volumes (``evaluation``). Public names are listed once, in each module's ``__all__``,
and imported here."""

from .evaluation import SliceAUC, load_slice_labels, slice_labels_from_volume, tumour_slice_auc
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
    "ExternalSettings",
    "HeldOutPeople",
    "SliceAUC",
    "choose_threshold",
    "external_markdown",
    "external_validation",
    "load_slice_labels",
    "position_prior",
    "predict_probabilities",
    "series_scores",
    "slice_labels_from_volume",
    "slice_report",
    "tumour_slice_auc",
]
