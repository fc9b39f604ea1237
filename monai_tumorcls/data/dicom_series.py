"""Moved to :mod:`monai_tumorcls.data.readers` (``dicom_scan``, ``dicom_series``, ``series_selection``); the old
names warn for one release."""

from monai_tumorcls.utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.data.readers", [
    "DEFAULT_EXCLUDE_DESCRIPTION", "DICOM_SUFFIXES", "NIFTI_SUFFIXES", "is_nifti_file", "is_dicom_file",
    "DicomFrameRef", "DicomSeries", "ScanIssue", "DicomScanResult", "FrameOrder", "SeriesSelection",
    "scan_dicom_folder", "scan_dicom_files", "order_frames", "select_series", "quiet_pydicom",
])
