"""The typed schema of a checkpoint's metadata: what may be read from a file that anybody could have written.

The metadata rebuilds the network and preprocessing at inference: its ``options`` become ``train.json`` overrides,
which MONAI's config parser would evaluate if they held ``$`` expressions, ``@`` references, ``%`` macros or
``_target_`` components. So every value is checked here before it is used: the options against a closed list of
names and types (numbers, short tokens, lists of numbers), the temperature as a finite positive number, the lesion threshold as a probability, the class
names as short tokens, the validation record (:func:`check_validation_record`) field by field, and everything else
as plain JSON-like data in which no string starts with ``$``, ``@`` or ``%``. A token
(``[A-Za-z0-9][A-Za-z0-9_.+-]*``) cannot be an expression, a reference or a macro.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "CheckpointMetadataError",
    "OPTION_TYPES",
    "VALIDATION_FIELDS",
    "check_temperature",
    "check_validation_record",
    "validate_metadata",
]

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
_CONFIG_SYNTAX = ("$", "@", "%")  # MONAI's expression, reference and macro prefixes
MAX_DEPTH = 8  # descriptions of transforms nest three levels; anything deeper was not written by training
MAX_ITEMS = 10_000  # strings, numbers and containers in the whole metadata
MAX_TEXT = 4096  # characters of one string (a head's repr is the longest written)
MAX_SUMMARY = 400  # characters of the validation summary (printed at inference: one short paragraph)
MAX_HELD_OUT = 64  # numbers in a validation record (a few metrics per sequence)
_SOURCE_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}){0,7}")


class CheckpointMetadataError(ValueError):
    """A checkpoint's metadata does not follow the schema (it is refused, never used)."""


def _number(low: float, high: float, integer: bool = False) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        kinds = (int,) if integer else (int, float)
        return (isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
                and low <= value <= high)
    return check


def _token(value: Any) -> bool:
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def _list_of(check: Callable[[Any], bool], min_len: int, max_len: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and min_len <= len(value) <= max_len and all(map(check, value))


#: each train-config option a checkpoint may set, with the check its value must pass (the option names of every
#: bundle's ``checkpoint_meta#options``; a name outside this list is refused, so a checkpoint cannot override
#: ``run``, ``initialize`` or any component of the config).
OPTION_TYPES: dict[str, Callable[[Any], bool]] = {
    "task": _token,
    "backbone": _token,
    "head": _token,
    "spp_pool": _token,
    "dropout": _number(0.0, 0.99),
    "hidden_features": _number(1, 65536, integer=True),
    "spp_levels": _list_of(_number(1, 64, integer=True), 1, 8),
    "image_size": _number(16, 4096, integer=True),
    "imagenet_mean": _list_of(_number(-1e3, 1e3), 1, 4),
    "imagenet_std": _list_of(_number(1e-6, 1e3), 1, 4),
    "decoder_channels": _list_of(_number(1, 4096, integer=True), 1, 8),
}

#: top-level fields with a stricter check than "plain data" (``None`` allowed where training may leave them unset).
_FIELD_TYPES: dict[str, Callable[[Any], bool]] = {
    "bundle": _token,
    "task": lambda v: v is None or _token(v),
    "class_names": _list_of(_token, 0, 64),  # none for a self-supervised trunk
    "temperature": _number(1e-3, 1e3),
    "lesion_threshold": _number(0.01, 0.99),
}


def _summary(value: Any) -> bool:
    # printed at inference: no control characters (terminal escapes, a forged second line), no config syntax
    return (isinstance(value, str) and 0 < len(value) <= MAX_SUMMARY and value.isprintable()
            and not value.lstrip().startswith(_CONFIG_SYNTAX))


def _held_out(value: Any) -> bool:
    finite = _number(-1e9, 1e9)
    return (isinstance(value, Mapping) and len(value) <= MAX_HELD_OUT
            and all(_token(k) and finite(v) for k, v in value.items()))


def _source(value: Any) -> bool:  # a relative path inside the project, e.g. docs/reports/external_validation.md
    return isinstance(value, str) and _SOURCE_PATH.fullmatch(value) is not None and ".." not in value.split("/")


#: the fields of a checkpoint's ``validation`` record, each with its check; all are required, no other is allowed.
VALIDATION_FIELDS: dict[str, Callable[[Any], bool]] = {
    "trained_on": _list_of(_token, 1, 16),
    "volumes_validated": lambda v: isinstance(v, bool),
    "summary": _summary,
    "held_out": _held_out,
    "source": _source,
}


def check_validation_record(record: Any) -> None:
    """Refuse a ``validation`` record that is not exactly :data:`VALIDATION_FIELDS`, each passing its check: the
    sources trained on (tokens), whether tumour volumes were validated (a bool), a printable summary of at most
    400 characters, the held-out numbers (token -> finite number) and the report they come from (a relative path).

    Raises:
        CheckpointMetadataError: names the field (e.g. ``validation.held_out``).
    """
    if not isinstance(record, Mapping):
        raise CheckpointMetadataError(f"validation: {type(record).__name__}, expected a mapping")
    unknown = sorted(str(k)[:40] for k in record if k not in VALIDATION_FIELDS)
    missing = sorted(k for k in VALIDATION_FIELDS if k not in record)
    if unknown or missing:
        raise CheckpointMetadataError(f"validation: unknown fields {unknown}, missing fields {missing}")
    for name, check in VALIDATION_FIELDS.items():
        if not check(record[name]):
            raise CheckpointMetadataError(f"validation.{name}: refused value {str(record[name])[:40]!r}")


def check_temperature(value: Any) -> float:
    """``value`` as the softmax temperature: a finite number in [1e-3, 1e3]. Zero, negative (which would invert
    every decision), NaN or a word are refused, whether they come from a checkpoint or the command line.

    Raises:
        ValueError: names the value.
    """
    if not _FIELD_TYPES["temperature"](value):
        raise ValueError(f"temperature must be a finite number between 0.001 and 1000, got {str(value)[:40]!r}")
    return float(value)


def _check_plain(value: Any, where: str, budget: list[int], depth: int = 0) -> None:
    """Refuse anything but JSON-like data of bounded size, and strings MONAI's parser would read as config."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise CheckpointMetadataError(f"{where}: too large or too deeply nested")
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        return  # NaN is allowed in descriptions (e.g. a metric that could not be computed); checked fields are finite
    if isinstance(value, str):
        if value.lstrip().startswith(_CONFIG_SYNTAX):
            raise CheckpointMetadataError(f"{where}: refused {value[:40]!r}: config syntax ($, @ or %) is not data")
        if len(value) > MAX_TEXT:
            raise CheckpointMetadataError(f"{where}: refused, a string of {len(value)} characters")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", budget, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith(_CONFIG_SYNTAX) or key == "_target_":
                raise CheckpointMetadataError(f"{where}: refused key {str(key)[:40]!r}")
            _check_plain(item, f"{where}.{key}", budget, depth + 1)
        return
    raise CheckpointMetadataError(f"{where}: {type(value).__name__} is not plain data")


def _check_options(options: Any) -> None:
    if not isinstance(options, Mapping):
        raise CheckpointMetadataError("options: not a mapping")
    for name, value in options.items():
        if name not in OPTION_TYPES:
            raise CheckpointMetadataError(f"options.{str(name)[:40]}: not an option a checkpoint may set")
        if not OPTION_TYPES[name](value):
            raise CheckpointMetadataError(f"options.{name}: refused value {str(value)[:40]!r}")


def validate_metadata(metadata: Any) -> dict:
    """``metadata`` as a plain dict once it passed the schema (see the module's docstring).

    Raises:
        CheckpointMetadataError: the first value that does not pass, named by its place (e.g. ``options.image_size``).
    """
    if not isinstance(metadata, Mapping):
        raise CheckpointMetadataError(f"metadata: {type(metadata).__name__}, expected a mapping")
    _check_plain(metadata, "metadata", [MAX_ITEMS])
    for name, check in _FIELD_TYPES.items():
        if name in metadata and not check(metadata[name]):
            raise CheckpointMetadataError(f"{name}: refused value {str(metadata[name])[:40]!r}")
    _check_options(metadata.get("options", {}))
    if "validation" in metadata:
        check_validation_record(metadata["validation"])
    return dict(metadata)
