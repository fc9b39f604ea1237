"""Names that moved to another module keep working for one release, with a warning that says where they went."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["moved_names"]


def moved_names(old_module: str, new_module: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old_module`` that returns each of ``names`` from ``new_module`` with a
    ``FutureWarning`` (MONAI's category for deprecations), and raises ``AttributeError`` for any other name."""
    moved = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warnings.warn(f"{old_module}.{name} moved to {new_module}.{name}; the old name goes in the next release",
                      FutureWarning, stacklevel=2)
        return getattr(importlib.import_module(new_module), name)

    return __getattr__
