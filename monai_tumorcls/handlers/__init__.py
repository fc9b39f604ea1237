"""Ignite handlers for MONAI engines: atomic checkpoints, classification reports, prediction tables."""

from .checkpoint import AtomicCheckpointSaver, load_checkpoint, state_dict_of
from .classification_report import ClassificationReportHandler
from .collector import ItemCollector, item_filename
from .prediction_writer import PredictionWriter
from .utils import stack_pred_label

__all__ = [
    "AtomicCheckpointSaver",
    "ClassificationReportHandler",
    "ItemCollector",
    "PredictionWriter",
    "item_filename",
    "load_checkpoint",
    "stack_pred_label",
    "state_dict_of",
]
