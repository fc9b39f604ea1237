"""Helpers for this project's MONAI bundles."""

from .config import bundle_component, exit_on_failures, find_bundle_root, load_bundle_config

__all__ = ["bundle_component", "exit_on_failures", "find_bundle_root", "load_bundle_config"]
