"""Deprecated: moved to :mod:`monai_tumorcls.apps.clinical.dicom_results` (these names go in the next release)."""

from ..utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.clinical.dicom_results", ["DICOM_RESULTS_FOLDER", "write_series_dicom_results", "write_run_dicom_results", "with_dicom_results"])
