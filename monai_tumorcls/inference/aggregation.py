"""Deprecated: moved to :mod:`monai_tumorcls.apps.clinical.aggregation` (these names go in the next release)."""

from ..apps.clinical.aggregation import aggregate_slices  # noqa: F401 - external.py imports it here until it moves
from ..utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.clinical.aggregation",
                          ["AGGREGATIONS", "NON_TUMOUR_NAMES", "SeriesDecision", "default_tumour_classes",
                           "tumour_probability"])
