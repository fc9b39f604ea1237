"""Deprecated: moved to :mod:`monai_tumorcls.apps.clinical.aggregation` (these names go in the next release)."""

from ..utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.clinical.aggregation",
                          ["AGGREGATIONS", "NON_TUMOUR_NAMES", "SeriesDecision", "aggregate_slices",
                           "default_tumour_classes", "tumour_probability"])
