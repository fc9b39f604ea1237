"""Clinical-input inference: DICOM/NIfTI series -> 2D slices -> slice probabilities -> series decision.

Modules by job: ``records`` (what a run records and writes), ``slice_prediction`` (slices through the network),
``clinical`` (the run: :class:`ClinicalInferer`), ``aggregation`` (slices -> series decision), ``evaluation`` and
``external`` (validation on labelled slices and held-out patients). Public names are listed once, in each module's
``__all__``, and imported here (as ``monai.transforms`` does)."""

from ..data.slicing import SliceStack, constant_slices, volume_to_slices  # re-exported: their home is data
from .aggregation import AGGREGATIONS, SeriesDecision, aggregate_slices, default_tumour_classes, tumour_probability
from .clinical import ClinicalInferer, run_clinical_inference
from .dicom_results import DICOM_RESULTS_FOLDER, with_dicom_results, write_run_dicom_results, write_series_dicom_results
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
from .records import (
    CSV_COLUMNS,
    SCHEMA_VERSION,
    ClinicalRunResult,
    InputResult,
    RunIssue,
    SeriesResult,
    SliceRecord,
    csv_text,
    write_run_outputs,
)
from .slice_prediction import ACTIVATIONS, SLICE_LAYOUTS, SlicePredictor
