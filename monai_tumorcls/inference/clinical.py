"""Deprecated: moved to :mod:`monai_tumorcls.apps.clinical.inferer` (these names go in the next release)."""

from ..utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.clinical.inferer", ["ClinicalInferer", "run_clinical_inference"])
