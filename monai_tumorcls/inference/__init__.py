"""Deprecated home of the clinical stack, now :mod:`monai_tumorcls.apps.clinical` (its names here warn and go in the
next release). ``evaluation`` and ``external`` (validation on labelled slices and held-out patients) still live
here."""

from ..utils.deprecation import moved_names
from .evaluation import SliceAUC, load_slice_labels, roc_auc, slice_labels_from_volume, tumour_slice_auc
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

#: the names that moved to monai_tumorcls.apps.clinical
CLINICAL_NAMES = (
    "SliceStack", "constant_slices", "volume_to_slices", "AGGREGATIONS", "SeriesDecision", "aggregate_slices",
    "tumour_probability", "ClinicalInferer", "run_clinical_inference",
    "DICOM_RESULTS_FOLDER", "with_dicom_results", "write_run_dicom_results", "write_series_dicom_results",
    "CSV_COLUMNS", "SCHEMA_VERSION", "ClinicalRunResult", "InputResult", "RunIssue", "SeriesResult", "SliceRecord",
    "csv_text", "write_run_outputs", "ACTIVATIONS", "SLICE_LAYOUTS", "SlicePredictor",
)

_moved = moved_names(__name__, "monai_tumorcls.apps.clinical", CLINICAL_NAMES)


def __getattr__(name: str):
    if name == "default_tumour_classes":  # renamed as well as moved: the old function warns when called
        from ..apps.clinical.aggregation import default_tumour_classes

        return default_tumour_classes
    return _moved(name)
