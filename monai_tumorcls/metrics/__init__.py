"""Classification metrics and report writers."""

from .classification import binary_metrics, classification_metrics, confusion_matrix, per_class_report, roc_auc_binary
from .report import confusion_matrix_png, report_markdown, write_classification_report

__all__ = [
    "binary_metrics",
    "classification_metrics",
    "confusion_matrix",
    "confusion_matrix_png",
    "per_class_report",
    "report_markdown",
    "roc_auc_binary",
    "write_classification_report",
]
