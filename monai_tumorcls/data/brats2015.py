"""Moved to :mod:`monai_tumorcls.data.datasets.brats2015` (dataset-specific code lives in ``data/datasets``); the old
names warn for one release."""

from monai_tumorcls.utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.data.datasets.brats2015", [
    "scan_brats2015", "thumbnail_rms", "near_duplicate_groups", "take_groups", "build_brats2015_datalists",
])
