"""Helpers for this project's MONAI bundles."""

from .config import bundle_component, check_output_dir, exit_on_failures, exit_with_status, find_bundle_root, load_bundle_config, optional_value, run_inference
from .inputs import as_input_list, detect_input_kind

__all__ = [
    "as_input_list",
    "bundle_component",
    "check_output_dir",
    "detect_input_kind",
    "exit_on_failures",
    "exit_with_status",
    "find_bundle_root",
    "load_bundle_config",
    "optional_value",
    "run_inference",
]
