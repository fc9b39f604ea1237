"""Data: readers, datalists and datasets."""

from .datalist import (
    BINARY_CLASSES,
    IMAGE_SUFFIXES,
    KAGGLE_CLASSES,
    TUMOUR_CLASSES,
    build_kaggle_datalists,
    class_counts,
    file_sha256,
    image_folder_datalist,
    label_items,
    limit_per_class,
    list_images,
    scan_class_folder,
    stratified_split,
    task_class_names,
)
from .dataset import FailSafeDataset
from .readers import DicomSeriesReader, ImageReadError, NiftiSliceReader, RasterImageReader
from .volume_slices import (
    SHARED_LABELLED_VOLUMES,
    LabelledVolume,
    load_display_volume,
    slice_flags,
    volume_groups,
    volume_slice_datalist,
    volume_slice_items,
)

__all__ = [
    "BINARY_CLASSES",
    "IMAGE_SUFFIXES",
    "KAGGLE_CLASSES",
    "SHARED_LABELLED_VOLUMES",
    "TUMOUR_CLASSES",
    "DicomSeriesReader",
    "FailSafeDataset",
    "ImageReadError",
    "LabelledVolume",
    "NiftiSliceReader",
    "RasterImageReader",
    "build_kaggle_datalists",
    "class_counts",
    "file_sha256",
    "image_folder_datalist",
    "label_items",
    "limit_per_class",
    "load_display_volume",
    "list_images",
    "scan_class_folder",
    "slice_flags",
    "stratified_split",
    "task_class_names",
    "volume_groups",
    "volume_slice_datalist",
    "volume_slice_items",
]
