"""Classification metrics, calibration and report writers."""

from .calibration import (
    brier_score,
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    temperature_scale,
)
from .classification import (
    binary_metrics,
    classification_metrics,
    confusion_matrix,
    per_class_report,
    position_matched_auc,
    roc_auc_binary,
)
from .report import (
    confusion_matrix_png,
    reliability_diagram_png,
    report_markdown,
    roc_curve,
    roc_curves_png,
    write_classification_report,
)

__all__ = [
    "binary_metrics",
    "brier_score",
    "calibration_summary",
    "classification_metrics",
    "confusion_matrix",
    "confusion_matrix_png",
    "expected_calibration_error",
    "fit_temperature",
    "per_class_report",
    "position_matched_auc",
    "reliability_bins",
    "reliability_diagram_png",
    "report_markdown",
    "roc_auc_binary",
    "roc_curve",
    "roc_curves_png",
    "temperature_scale",
    "write_classification_report",
]
