"""The checkpoint contract: one safe reader, the metadata schema, and the digest binding metadata to weights."""

from .io import (
    DIGEST_KEY,
    METADATA_KEY,
    CheckpointDigestError,
    check_finite_weights,
    checkpoint_digest,
    read_checkpoint,
    read_metadata,
    save_checkpoint,
    verify_digest,
)
from .schema import OPTION_TYPES, CheckpointMetadataError, check_temperature, validate_metadata

__all__ = [
    "DIGEST_KEY",
    "METADATA_KEY",
    "OPTION_TYPES",
    "CheckpointDigestError",
    "CheckpointMetadataError",
    "check_finite_weights",
    "check_temperature",
    "checkpoint_digest",
    "read_checkpoint",
    "read_metadata",
    "save_checkpoint",
    "validate_metadata",
    "verify_digest",
]
