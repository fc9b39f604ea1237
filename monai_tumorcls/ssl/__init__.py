"""Moved to :mod:`monai_tumorcls.apps.ssl` (a task stack, as ``monai.apps.<task>``); the old names warn for one
release."""

from monai_tumorcls.utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.ssl", [
    "NTXentLoss", "ProjectionHead", "SimCLRIteration", "SimCLRNet", "TwoViews", "TwoViewsD", "TwoViewsDict",
    "TwoViewsd", "assert_training_only", "unlabelled_datalist",
])
