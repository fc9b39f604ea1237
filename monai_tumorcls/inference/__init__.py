"""Deprecated home of the clinical stack (now :mod:`monai_tumorcls.apps.clinical`) and of validation on labelled
slices and held-out patients (now :mod:`monai_tumorcls.apps.validation`). Every name here warns and goes in the
next release; nothing is imported until a name is asked for."""

import importlib

from ..utils.deprecation import moved_names

#: the names that moved to monai_tumorcls.apps.clinical
CLINICAL_NAMES = (
    "SliceStack", "constant_slices", "volume_to_slices", "AGGREGATIONS", "SeriesDecision", "aggregate_slices",
    "tumour_probability", "ClinicalInferer", "run_clinical_inference",
    "DICOM_RESULTS_FOLDER", "with_dicom_results", "write_run_dicom_results", "write_series_dicom_results",
    "CSV_COLUMNS", "SCHEMA_VERSION", "ClinicalRunResult", "InputResult", "RunIssue", "SeriesResult", "SliceRecord",
    "csv_text", "write_run_outputs", "ACTIVATIONS", "SLICE_LAYOUTS", "SlicePredictor",
)
#: validation names -> the deprecated submodule that forwards them (some with shims for changed arguments)
VALIDATION_NAMES = {
    **dict.fromkeys(("SliceAUC", "load_slice_labels", "roc_auc", "slice_labels_from_volume", "tumour_slice_auc"),
                    "evaluation"),
    **dict.fromkeys(("choose_threshold", "external_markdown", "external_validation", "position_matched_auc",
                     "position_prior", "predict_probabilities", "series_scores", "slice_report"), "external"),
}

_moved = moved_names(__name__, "monai_tumorcls.apps.clinical", CLINICAL_NAMES)


def __getattr__(name: str):
    if name in VALIDATION_NAMES:  # the submodule warns (and adapts the arguments that changed)
        return getattr(importlib.import_module(f"{__name__}.{VALIDATION_NAMES[name]}"), name)
    if name == "default_tumour_classes":  # renamed as well as moved: the old function warns when called
        from ..apps.clinical.aggregation import default_tumour_classes

        return default_tumour_classes
    return _moved(name)
