"""Image readers (``monai.data.ImageReader`` subclasses) usable as ``LoadImaged(keys, reader=...)``."""

from .dicom import DicomSeriesReader
from .errors import ImageReadError
from .nifti import NiftiSliceReader
from .raster import DEFAULT_MAX_PIXELS, RasterImageReader

__all__ = ["DEFAULT_MAX_PIXELS", "DicomSeriesReader", "ImageReadError", "NiftiSliceReader", "RasterImageReader"]
