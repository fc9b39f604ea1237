"""Small utilities shared across monai_tumorcls."""

from .atomic import (
    atomic_torch_save,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    atomic_write_texts,
    is_out_of_space,
    remove_orphan_temps,
)
from .exits import could_not_start
from .flags import as_flag
from .progress import progress_bar, stderr_is_terminal
from .run_info import cpu_model, describe_init, environment_info, log_run_start, shell_join

__all__ = [
    "as_flag",
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_texts",
    "is_out_of_space",
    "could_not_start",
    "cpu_model",
    "describe_init",
    "environment_info",
    "log_run_start",
    "progress_bar",
    "remove_orphan_temps",
    "shell_join",
    "stderr_is_terminal",
]
