"""Clinical-input inference: DICOM/NIfTI series -> 2D slices -> slice probabilities -> series decision."""

from .aggregation import AGGREGATIONS, SeriesDecision, aggregate_slices, default_tumour_classes, tumour_probability
from .clinical import ClinicalRunResult, RunIssue, SeriesResult, SliceRecord, run_clinical_inference
from .external import (
    choose_threshold,
    external_markdown,
    external_validation,
    position_matched_auc,
    position_prior,
    predict_probabilities,
    series_scores,
    slice_report,
)
from .evaluation import SliceAUC, load_slice_labels, roc_auc, slice_labels_from_volume, tumour_slice_auc
from ..data.slicing import SliceStack, constant_slices, volume_to_slices  # re-exported: their home is data

__all__ = [
    "AGGREGATIONS",
    "SeriesDecision",
    "aggregate_slices",
    "default_tumour_classes",
    "tumour_probability",
    "ClinicalRunResult",
    "RunIssue",
    "SeriesResult",
    "SliceRecord",
    "run_clinical_inference",
    "SliceAUC",
    "load_slice_labels",
    "roc_auc",
    "slice_labels_from_volume",
    "tumour_slice_auc",
    "choose_threshold",
    "external_markdown",
    "external_validation",
    "position_matched_auc",
    "position_prior",
    "predict_probabilities",
    "series_scores",
    "slice_report",
    "SliceStack",
    "constant_slices",
    "volume_to_slices",
]
