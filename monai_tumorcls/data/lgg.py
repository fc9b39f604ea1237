"""Moved to :mod:`monai_tumorcls.data.datasets.lgg` (dataset-specific code lives in ``data/datasets``); the old
names warn for one release."""

from monai_tumorcls.utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.data.datasets.lgg", [
    "LGG_DIRNAME", "LGG_SEQUENCES", "lgg_patient_site", "scan_lgg_folder", "lgg_slice_items", "patient_folds",
    "lgg_fold_datalists",
])
