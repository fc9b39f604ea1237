"""Names that moved to another module, and keywords grouped into an options dataclass, keep working for one release,
with a warning that says where they went."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from typing import Any

__all__ = ["moved_names", "moved_keywords"]


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


def moved_keywords(where: str, options: Any, cls: type, keywords: Mapping[str, Any],
                   fields_of: Mapping[str, str] | None = None, accepted: Iterable[str] | None = None) -> Any:
    """``options`` (an instance of the dataclass ``cls``; None for its defaults) with the loose ``keywords`` that
    ``where`` took before they were grouped into ``cls`` set on it, with one ``FutureWarning`` naming the new spelling.
    ``fields_of`` maps an old keyword to its field where the names differ; ``accepted`` names the old keywords
    ``where`` took where they are not all of ``cls``'s fields (default: any field name or ``fields_of`` key). Any
    other keyword is the ``TypeError`` Python raises for an unexpected keyword argument, as before."""
    options = cls() if options is None else options
    if not keywords:
        return options
    fields_of = dict(fields_of or {})
    names = {f.name for f in fields(cls)}
    allowed = None if accepted is None else set(accepted)
    unknown = [k for k in keywords if fields_of.get(k, k) not in names or (allowed is not None and k not in allowed)]
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
    new = ", ".join(f"{fields_of.get(k, k)}=..." for k in keywords)
    warnings.warn(f"{where}({', '.join(f'{k}=...' for k in keywords)}) is now {where}(..., {cls.__name__}({new})); "
                  "the old keywords go in the next release", FutureWarning, stacklevel=3)
    return replace(options, **{fields_of.get(k, k): v for k, v in keywords.items()})
