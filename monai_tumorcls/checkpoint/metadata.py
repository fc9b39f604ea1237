"""Self-describing checkpoints: what inference needs to rebuild a trained model, stored next to its weights.

Training writes ``{"model": state_dict, "metadata": {...}, "digest": ...}``
(:class:`~monai_tumorcls.handlers.AtomicCheckpointSaver` with ``metadata``); the metadata holds plain types only, so the file still loads with ``torch.load(...,
weights_only=True)``. Inference applies the stored train-config ``options`` (image size, backbone, head, task,
normalisation, ...) as overrides of the bundle's ``train.json`` and refuses an explicit override that contradicts
them; a checkpoint without metadata (a plain state dict) is used as before, with a warning. The metadata is checked
against the schema (:mod:`.schema`) and digest (:mod:`.io`) before any of it is used.
"""

from __future__ import annotations

import logging
from collections import Counter
from itertools import zip_longest
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from monai_tumorcls.utils.flags import as_flag
from monai_tumorcls.utils.run_info import describe_init, environment_info

from .io import read_metadata

__all__ = [
    "CheckpointMismatchError",
    "check_checkpoint_values",
    "checkpoint_metadata",
    "checkpoint_train_overrides",
    "data_summary",
    "describe_transforms",
    "read_checkpoint_metadata",
]

logger = logging.getLogger(__name__)

class CheckpointMismatchError(ValueError):
    """An explicit setting contradicts what the checkpoint was trained with."""


def _plain(value):
    """``value`` as JSON-like plain types (tensors and arrays as nested lists, anything else as its name/text)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    for kind, cast in ((bool, bool), (np.bool_, bool), (int, int), (np.integer, int), (float, float),
                       (np.floating, float), (str, str)):  # subclasses (numpy scalars, TorchVersion) load unsafely
        if isinstance(value, kind):
            return cast(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return getattr(value, "__qualname__", None) or str(value)  # dtypes, functions: by name, never by address


def _describe(obj, depth: int = 1) -> dict:
    out = {"class": type(obj).__name__}
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        nested = depth > 0 and hasattr(value, "__dict__") and not isinstance(value, (torch.Tensor, Enum, type))
        out[name] = _describe(value, depth - 1) if nested else _plain(value)
    return out


def describe_transforms(transforms: Sequence) -> list[dict]:
    """Plain description of each transform: its class and public settings, one level into the array transform a
    dictionary transform wraps (e.g. ``Resized`` -> its ``Resize``'s ``spatial_size``)."""
    return [_describe(t) for t in transforms]


def data_summary(splits: Mapping[str, Sequence[dict]], class_names: Sequence[str]) -> dict:
    """Items per class (and per ``source`` where items have one) of each split; counts only, no identifiers."""
    out = {}
    for split, items in splits.items():
        labelled = [it for it in items if "label" in it]  # unlabelled (self-supervised) items are only counted
        summary = {"total": len(items), "per_class": dict(Counter(class_names[int(it["label"])] for it in labelled))}
        sources = Counter(str(it["source"]) for it in items if "source" in it)
        if sources:
            summary["per_source"] = dict(sources)
        out[split] = summary
    return out


def checkpoint_metadata(
    bundle: str,
    class_names: Sequence[str],
    options: Mapping,
    network: torch.nn.Module,
    transforms: Sequence,
    pretrained=None,
    data: Mapping[str, Sequence[dict]] | None = None,
) -> dict:
    """Metadata of a bundle's checkpoints (plain types only).

    Args:
        bundle: bundle name.
        class_names: names indexed by label.
        options: the train-config options the network and preprocessing are built from (``task``, ``backbone``,
            ``image_size``, head parameters, normalisation...): inference applies them as ``train.json`` overrides.
        network: the trained network (its backbone, head and class count are recorded).
        transforms: the deterministic preprocessing after loading (e.g. ``@prepare + @normalise``).
        pretrained: the initialisation (``None``, ``"imagenet"`` or a weights file).
        data: split name -> datalist items, summarised by :func:`data_summary`.
    """
    import monai_tumorcls

    net = getattr(network, "module", network)
    head = getattr(net, "head", None)
    return {
        "bundle": bundle,
        "task": options.get("task"),
        "class_names": list(class_names),
        "options": _plain(dict(options)),
        "network": {"class": type(net).__name__, "backbone": getattr(net, "backbone", None),
                    "num_classes": getattr(net, "num_classes", len(class_names)),
                    "head": repr(head) if head is not None else None},
        "preprocessing": describe_transforms(transforms),
        "initialisation": {"pretrained": _plain(pretrained), "description": describe_init(pretrained)},
        "training_data": data_summary(data or {}, class_names),
        "environment": _plain({**environment_info(), "monai_tumorcls": monai_tumorcls.__version__}),
        "temperature": 1.0,
    }


def read_checkpoint_metadata(path: str | Path, accept_edited: bool | str = False) -> dict:
    """The checked metadata of checkpoint ``path`` (:func:`monai_tumorcls.checkpoint.read_metadata`: schema always,
    digest unless ``accept_edited``, a yes/no bundle option); ``{}`` for a checkpoint without metadata."""
    return read_metadata(path, as_flag(accept_edited, "accept_edited_checkpoint"))


def _refuse_contradictions(stored: Mapping, values: Mapping) -> None:
    for name, value in values.items():
        if stored.get(name) is not None and _plain(value) != stored[name]:
            raise CheckpointMismatchError(
                f"{name}={value!r} contradicts the checkpoint, trained with {name}={stored[name]!r} (inference: "
                "leave the option out to use the checkpoint's; evaluation: give the training run's overrides)")


def checkpoint_train_overrides(metadata: Mapping, overrides: Mapping | None = None) -> dict:
    """``train.json`` overrides that rebuild the checkpoint's network and preprocessing: its stored ``options``,
    plus the explicit ``overrides``, which must agree with them.

    Raises:
        CheckpointMismatchError: an override contradicts a stored option.
    """
    stored = dict(metadata.get("options", {}))
    _refuse_contradictions(stored, overrides or {})
    return {**stored, **(overrides or {})}


def check_checkpoint_values(metadata: Mapping, values: Mapping, transforms: Sequence | None = None) -> None:
    """Refuse settings of a run that contradict the checkpoint: ``values`` (e.g. ``{"image_size": 224,
    "class_names": [...]}``) against the stored options and class names, and the run's ``transforms`` against the
    stored preprocessing. Nothing is checked without metadata.

    Raises:
        CheckpointMismatchError: the first contradiction found.
    """
    if not metadata:
        return
    stored = {"backbone": metadata.get("network", {}).get("backbone"), **metadata.get("options", {}),
              "class_names": metadata.get("class_names")}
    _refuse_contradictions(stored, values)
    if transforms is not None:
        kept_steps = metadata.get("preprocessing", [])
        steps = zip_longest(describe_transforms(transforms), kept_steps, fillvalue={"class": "none"})
        for i, (given, kept) in enumerate(steps):
            if given != kept:
                raise CheckpointMismatchError(
                    f"preprocessing step {i} ({given['class']}) differs from the checkpoint's ({kept['class']}): the "
                    "bundle's train.json (or an override) no longer matches the checkpoint")
