"""Image readers (``monai.data.ImageReader`` subclasses) usable as ``LoadImaged(keys, reader=...)``, and the DICOM
folder scan they rely on: ``dicom_scan`` (files -> series, with a reason for every file not used), ``dicom_series``
(frames and their slice order), ``series_selection`` (which series are classified)."""

from .dicom import DicomSeriesReader
from .dicom_scan import (
    DICOM_SUFFIXES,
    NIFTI_SUFFIXES,
    DicomScanResult,
    ScanIssue,
    is_dicom_file,
    is_nifti_file,
    scan_dicom_files,
    scan_dicom_folder,
)
from .dicom_series import DicomFrameRef, DicomSeries, FrameOrder, order_frames, quiet_pydicom
from .errors import ImageReadError
from .nifti import NiftiSliceReader
from .raster import DEFAULT_MAX_PIXELS, RasterImageReader
from .series_selection import DEFAULT_EXCLUDE_DESCRIPTION, SeriesSelection, select_series

__all__ = [
    "DEFAULT_EXCLUDE_DESCRIPTION",
    "DEFAULT_MAX_PIXELS",
    "DICOM_SUFFIXES",
    "NIFTI_SUFFIXES",
    "DicomFrameRef",
    "DicomScanResult",
    "DicomSeries",
    "DicomSeriesReader",
    "FrameOrder",
    "ImageReadError",
    "NiftiSliceReader",
    "RasterImageReader",
    "ScanIssue",
    "SeriesSelection",
    "is_dicom_file",
    "is_nifti_file",
    "order_frames",
    "quiet_pydicom",
    "scan_dicom_files",
    "scan_dicom_folder",
    "select_series",
]
