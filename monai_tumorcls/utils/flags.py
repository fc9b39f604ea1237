"""Yes/no bundle options as the command line gives them."""

from __future__ import annotations

from typing import Any

__all__ = ["as_flag"]

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "", "none", "null")


def as_flag(value: Any, name: str = "option") -> bool:
    """``value`` as a bool. ``python -m monai.bundle run ... --saliency false`` passes the *string* ``"false"``
    (Python Fire turns only ``False``/``True`` into bools), which a plain ``if`` would read as true; so strings are
    read by their words, and a string that is neither yes nor no is refused with ``name`` in the message."""
    if not isinstance(value, str):
        return bool(value)
    text = value.strip().lower()
    if text not in _TRUE + _FALSE:
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return text in _TRUE
