"""Helpers for this project's MONAI bundles."""

from .config import (
    LOCK_FILE,
    bundle_component,
    bundle_version,
    check_output_dir,
    could_not_start,
    exit_on_failures,
    exit_with_status,
    find_bundle_root,
    load_bundle_config,
    one_line_errors,
    optional_value,
    output_lock,
    run_inference,
    start_or_exit,
)
from .inputs import as_input_list, detect_input_kind
from .packaged import copy_bundle, packaged_bundle_names, packaged_bundles_dir
from .verify import METADATA_SCHEMA, metadata_schema_path, verify_bundle_metadata

__all__ = [
    "as_input_list",
    "bundle_component",
    "bundle_version",
    "check_output_dir",
    "could_not_start",
    "LOCK_FILE",
    "METADATA_SCHEMA",
    "output_lock",
    "start_or_exit",
    "one_line_errors",
    "copy_bundle",
    "detect_input_kind",
    "exit_on_failures",
    "exit_with_status",
    "find_bundle_root",
    "load_bundle_config",
    "metadata_schema_path",
    "optional_value",
    "packaged_bundle_names",
    "packaged_bundles_dir",
    "run_inference",
    "verify_bundle_metadata",
]
