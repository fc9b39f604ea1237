"""Dataset-specific datalists, built on the generic readers and datalist helpers of :mod:`monai_tumorcls.data`:
the Kaggle Brain Tumor MRI Dataset (``kaggle``), the BraTS-2015-derived slices (``brats2015``), the LGG
segmentation set (``lgg``), the multi-source bundle's Kaggle + LGG + IXI mix (``multisource``) and the labelled
volumes of the shared data folder (``shared_volumes``)."""

from .brats2015 import build_brats2015_datalists, near_duplicate_groups, scan_brats2015, take_groups, thumbnail_rms
from .kaggle import (
    BINARY_CLASSES,
    KAGGLE_CLASSES,
    KAGGLE_SHORTCUT_SIZE,
    TUMOUR_CLASSES,
    build_kaggle_datalists,
    has_shortcut_size,
    label_items,
    task_class_names,
)
from .lgg import (
    LGG_DIRNAME,
    LGG_SEQUENCES,
    lgg_fold_datalists,
    lgg_patient_site,
    lgg_slice_items,
    patient_folds,
    scan_lgg_folder,
)
from .multisource import (
    IXI_DIRNAME,
    SOURCES,
    LggSlices,
    build_multisource_datalists,
    ixi_volumes,
    source_balanced_sampler,
)
from .shared_volumes import SHARED_LABELLED_VOLUMES

__all__ = [
    "BINARY_CLASSES",
    "IXI_DIRNAME",
    "KAGGLE_CLASSES",
    "KAGGLE_SHORTCUT_SIZE",
    "LGG_DIRNAME",
    "LGG_SEQUENCES",
    "SHARED_LABELLED_VOLUMES",
    "SOURCES",
    "TUMOUR_CLASSES",
    "build_brats2015_datalists",
    "build_kaggle_datalists",
    "build_multisource_datalists",
    "LggSlices",
    "has_shortcut_size",
    "ixi_volumes",
    "label_items",
    "lgg_fold_datalists",
    "lgg_patient_site",
    "lgg_slice_items",
    "near_duplicate_groups",
    "patient_folds",
    "scan_brats2015",
    "scan_lgg_folder",
    "source_balanced_sampler",
    "take_groups",
    "task_class_names",
    "thumbnail_rms",
]
