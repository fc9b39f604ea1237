"""Small utilities shared across monai_tumorcls."""

from .atomic import atomic_torch_save, atomic_write, atomic_write_bytes, atomic_write_text, remove_orphan_temps
from .flags import as_flag
from .progress import progress_bar
from .run_info import cpu_model, describe_init, environment_info, log_run_start, shell_join

__all__ = [
    "as_flag",
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "cpu_model",
    "describe_init",
    "environment_info",
    "log_run_start",
    "progress_bar",
    "remove_orphan_temps",
    "shell_join",
]
