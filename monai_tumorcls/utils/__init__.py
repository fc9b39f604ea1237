"""Small utilities shared across monai_tumorcls."""

from .atomic import atomic_torch_save, atomic_write, atomic_write_bytes, atomic_write_text
from .run_info import cpu_model, describe_init, environment_info, log_run_start, shell_join

__all__ = [
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "cpu_model",
    "describe_init",
    "environment_info",
    "log_run_start",
    "shell_join",
]
