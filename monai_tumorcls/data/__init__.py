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

__all__ = [
    "BINARY_CLASSES",
    "IMAGE_SUFFIXES",
    "KAGGLE_CLASSES",
    "TUMOUR_CLASSES",
    "DicomSeriesReader",
    "FailSafeDataset",
    "ImageReadError",
    "NiftiSliceReader",
    "RasterImageReader",
    "build_kaggle_datalists",
    "class_counts",
    "file_sha256",
    "image_folder_datalist",
    "label_items",
    "limit_per_class",
    "list_images",
    "scan_class_folder",
    "stratified_split",
    "task_class_names",
]
