"""Helpers for this project's MONAI bundles.

The names are imported from their modules on first use, so that ``python -m monai_tumorcls.bundle list`` and
``copy`` (which need only :mod:`.packaged`) start without importing MONAI.
"""

import importlib

_HOMES = {  # public name -> the module of this package that defines it
    **dict.fromkeys(["LOCK_FILE", "bundle_component", "bundle_version", "check_output_dir", "could_not_start",
                     "exit_on_failures", "exit_with_status", "find_bundle_root", "load_bundle_config",
                     "one_line_errors", "optional_value", "output_lock", "run_inference", "start_or_exit"], "config"),
    **dict.fromkeys(["as_input_list", "detect_input_kind"], "inputs"),
    **dict.fromkeys(["copy_bundle", "packaged_bundle_names", "packaged_bundles_dir"], "packaged"),
    **dict.fromkeys(["METADATA_SCHEMA", "metadata_schema_path", "verify_bundle_metadata"], "verify"),
}
__all__ = sorted(_HOMES)
_SUBMODULES = frozenset(["build", "config", "inputs", "packaged", "verify"])


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES) | _SUBMODULES)
