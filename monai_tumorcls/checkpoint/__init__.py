"""The checkpoint contract, in one place: one safe reader (``.pt`` with ``weights_only``, ``.safetensors``), the
metadata a checkpoint carries and its schema, the digest binding metadata to weights, the checks inference makes
against a checkpoint, the temperature and lesion threshold decided after training, and the provenance record every
output carries. Below handlers, networks, export and bundle."""

from .calibration import MIN_CALIBRATION_SAMPLES, calibrate_checkpoint, calibration_record
from .io import (
    DIGEST_KEY,
    METADATA_KEY,
    CheckpointDigestError,
    check_finite_weights,
    checkpoint_digest,
    load_checkpoint,
    read_checkpoint,
    read_metadata,
    save_checkpoint,
    update_metadata,
    verify_digest,
)
from .lesion_threshold import (
    LESION_THRESHOLD,
    MIN_THRESHOLD_SCANS,
    THRESHOLD_GRID,
    checkpoint_lesion_threshold,
    choose_lesion_threshold,
    lesion_threshold_record,
)
from .metadata import (
    CheckpointMismatchError,
    check_checkpoint_values,
    checkpoint_metadata,
    checkpoint_train_overrides,
    data_summary,
    describe_transforms,
    read_checkpoint_metadata,
)
from .provenance import PROVENANCE_COLUMNS, Provenance, checkpoint_provenance, checkpoint_sha256, provenance_cells
from .schema import (
    OPTION_TYPES,
    VALIDATION_FIELDS,
    CheckpointMetadataError,
    check_temperature,
    check_validation_record,
    validate_metadata,
)
from .validation_record import stamp_validation_record, validation_record

__all__ = [
    "DIGEST_KEY",
    "LESION_THRESHOLD",
    "METADATA_KEY",
    "MIN_CALIBRATION_SAMPLES",
    "MIN_THRESHOLD_SCANS",
    "OPTION_TYPES",
    "PROVENANCE_COLUMNS",
    "Provenance",
    "THRESHOLD_GRID",
    "VALIDATION_FIELDS",
    "CheckpointDigestError",
    "CheckpointMetadataError",
    "CheckpointMismatchError",
    "calibrate_checkpoint",
    "calibration_record",
    "check_checkpoint_values",
    "check_finite_weights",
    "check_temperature",
    "check_validation_record",
    "checkpoint_digest",
    "checkpoint_lesion_threshold",
    "checkpoint_metadata",
    "checkpoint_provenance",
    "checkpoint_sha256",
    "checkpoint_train_overrides",
    "choose_lesion_threshold",
    "data_summary",
    "describe_transforms",
    "lesion_threshold_record",
    "load_checkpoint",
    "provenance_cells",
    "read_checkpoint",
    "read_checkpoint_metadata",
    "read_metadata",
    "save_checkpoint",
    "stamp_validation_record",
    "update_metadata",
    "validate_metadata",
    "validation_record",
    "verify_digest",
]
