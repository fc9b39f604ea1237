"""Ignite handlers for MONAI engines: atomic checkpoints, training state, classification reports, prediction tables,
what an MLflow run records."""

from monai_tumorcls.utils.deprecation import moved_names

from .checkpoint import AtomicCheckpointSaver, BestCheckpoint, state_dict_of
from .classification_report import ClassificationReportHandler, ReportSplits
from .collector import ItemCollector, item_filename
from .distributed import (
    RANK_ZERO_ONLY_HANDLERS,
    BroadcastBuffers,
    ReplicaSyncCheck,
    check_replicas_in_sync,
    dist_rank,
    dist_world_size,
    handlers_for_rank,
    state_checksum,
)
from .prediction_writer import PredictionWriter
from .saliency_writer import SaliencyWriter
from .tracking import MLflowRunRecord, bundle_options
from .training_state import RandomStates, TrainingStateHandler, read_epoch_log
from .utils import stack_pred_label, stack_pred_onehot

__all__ = [
    "AtomicCheckpointSaver",
    "BestCheckpoint",
    "BroadcastBuffers",
    "RANK_ZERO_ONLY_HANDLERS",
    "ReplicaSyncCheck",
    "check_replicas_in_sync",
    "dist_rank",
    "dist_world_size",
    "handlers_for_rank",
    "state_checksum",
    "ClassificationReportHandler",
    "ReportSplits",
    "ItemCollector",
    "MLflowRunRecord",
    "PredictionWriter",
    "SaliencyWriter",
    "RandomStates",
    "TrainingStateHandler",
    "read_epoch_log",
    "bundle_options",
    "item_filename",
    "stack_pred_label",
    "stack_pred_onehot",
    "state_dict_of",
]

# moved to monai_tumorcls.checkpoint (the checkpoint contract); the old names warn for one release
__getattr__ = moved_names(__name__, "monai_tumorcls.checkpoint", [
    "CheckpointMismatchError", "calibrate_checkpoint", "check_checkpoint_values", "checkpoint_metadata",
    "checkpoint_train_overrides", "load_checkpoint", "read_checkpoint", "read_checkpoint_metadata",
])
