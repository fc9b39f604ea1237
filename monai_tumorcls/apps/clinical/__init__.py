"""Clinical inference: DICOM series, NIfTI volumes and image files -> 2D slices -> slice probabilities -> series
decision, as one configured component (:class:`ClinicalInferer`, a bundle's ``clinical_inferer``).

Modules by job: ``options`` (the option groups), ``inferer`` (the component), ``series`` (one clinical input),
``images`` (image files as one-slice series), ``slice_prediction`` (slices through the network), ``aggregation``
(slices -> series decision), ``records`` (what a run records), ``writers`` (what a run writes), ``dicom_results``
(DICOM SR and secondary captures for PACS). Public names are listed once, in each module's ``__all__``."""

from ...data.slicing import SliceStack, constant_slices, volume_to_slices  # re-exported: their home is data
from .aggregation import AGGREGATIONS, SeriesDecision, aggregate_slices, default_positive_classes, tumour_probability
from .dicom_results import DICOM_RESULTS_FOLDER, with_dicom_results, write_run_dicom_results, write_series_dicom_results
from .inferer import ClinicalInferer, run_clinical_inference
from .options import PredictionOptions, RunOutputs, SeriesDecisionRule, SliceOptions, grouped_options
from .records import SCHEMA_VERSION, ClinicalRunResult, ImageRunResult, InputResult, RunIssue, SeriesResult, SliceRecord
from .slice_prediction import ACTIVATIONS, SLICE_LAYOUTS, SlicePredictor
from .writers import CSV_COLUMNS, PREDICTIONS_STEM, csv_text, write_predictions, write_run_outputs
