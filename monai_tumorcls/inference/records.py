"""Deprecated: moved to :mod:`monai_tumorcls.apps.clinical` (``records`` and ``writers``; these names go in the next
release)."""

from ..utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.apps.clinical",
                          ["RunIssue", "SliceRecord", "SeriesResult", "InputResult", "ClinicalRunResult",
                           "SCHEMA_VERSION", "CSV_COLUMNS", "csv_text", "write_run_outputs"])
