"""Backbone weight files: torchvision's ImageNet files from the torch hub cache, or local files.

Nothing is ever downloaded. ``"imagenet"`` resolves to the file torchvision itself would use,
``torch.hub.get_dir()/checkpoints/<file name of the weights URL>`` (``torch.hub.get_dir()`` honours
``$TORCH_HOME`` and :py:func:`torch.hub.set_dir`). Local ``.pth``/``.pt`` files are read with
``torch.load(..., weights_only=True)`` (arbitrary pickled objects are refused), ``.safetensors`` files with
:py:func:`safetensors.torch.load_file`. Mapping the tensors onto a trunk is
:mod:`monai_tumorcls.networks.pretrained`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union
from urllib.parse import urlparse

import torch

from monai_tumorcls.checkpoint import read_checkpoint

__all__ = [
    "PretrainedSource",
    "PretrainedWeightsNotFoundError",
    "IMAGENET_SOURCES",
    "STATE_DICT_WRAPPER_KEYS",
    "RANDOM_INIT_NAMES",
    "imagenet_weight_files",
    "find_imagenet_weights",
    "read_state_dict",
    "read_pretrained_source",
]

PretrainedSource = Union[str, os.PathLike, Mapping[str, torch.Tensor], None]

#: ``pretrained`` keywords -> torchvision weight versions looked for, in order of preference.
IMAGENET_SOURCES: dict[str, tuple[str, ...]] = {
    "imagenet": ("IMAGENET1K_V1", "IMAGENET1K_V2"),
    "imagenet1k_v1": ("IMAGENET1K_V1",),
    "imagenet1k_v2": ("IMAGENET1K_V2",),
}
#: keys under which checkpoints commonly nest the state dict, tried in this order.
STATE_DICT_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "network", "net", "backbone", "encoder")
#: strings that mean "no weights" (as typed on a command line); a file with such a name needs a path like ./null
RANDOM_INIT_NAMES: tuple[str, ...] = ("null", "none", "random")


class PretrainedWeightsNotFoundError(FileNotFoundError):
    """Raised when the requested backbone weights file does not exist; the message says where it was looked for."""


def _file_name(url: str) -> str:
    # the torch.hub way (torch.hub.load_state_dict_from_url): the last component of the URL path
    return os.path.basename(urlparse(url).path)


def imagenet_weight_files(arch: str) -> dict[str, tuple[str, str]]:
    """
    torchvision's ImageNet weight files for an architecture.

    Args:
        arch: torchvision model name, e.g. ``"resnet50"``.

    Returns:
        ``{version: (file_name, url)}``, e.g. ``{"IMAGENET1K_V1": ("resnet50-0676ba61.pth", "https://...")}``,
        for the versions torchvision has (``IMAGENET1K_V2`` only where it exists).
    """
    from torchvision.models import get_model_weights

    try:
        weights_enum = get_model_weights(arch)
    except ValueError as e:
        raise ValueError(f"unknown torchvision architecture {arch!r}: {e}") from e
    return {w.name: (_file_name(w.url), w.url) for w in weights_enum if w.name.startswith("IMAGENET1K_")}


def _imagenet_versions(source: str) -> tuple[str, ...] | None:
    return IMAGENET_SOURCES.get(source.strip().lower())


def find_imagenet_weights(arch: str, source: str = "imagenet", hub_dir: str | os.PathLike | None = None) -> Path:
    """
    Locate torchvision's ImageNet weights for ``arch`` in the torch hub cache, without downloading.

    Args:
        arch: torchvision model name, e.g. ``"resnet18"``.
        source: ``"imagenet"`` (``IMAGENET1K_V1``, else ``IMAGENET1K_V2`` where torchvision has it),
            ``"imagenet1k_v1"`` or ``"imagenet1k_v2"``.
        hub_dir: the hub folder; defaults to :py:func:`torch.hub.get_dir` (``$TORCH_HOME/hub``).
            Files are looked for in ``<hub_dir>/checkpoints/``.

    Returns:
        the path of the first candidate file that exists.

    Raises:
        PretrainedWeightsNotFoundError: when none of the candidate files exists; the message lists them.
        ValueError: unknown ``source`` keyword, architecture, or a version torchvision does not have for ``arch``.
    """
    versions = _imagenet_versions(source)
    if versions is None:
        raise ValueError(f"unknown ImageNet weights {source!r}, expected one of {sorted(IMAGENET_SOURCES)}.")
    files = imagenet_weight_files(arch)
    wanted = [v for v in versions if v in files]
    if not wanted:
        raise ValueError(f"torchvision has no {'/'.join(versions)} weights for {arch!r} (it has {sorted(files)}).")
    checkpoints = Path(hub_dir if hub_dir is not None else torch.hub.get_dir()).expanduser() / "checkpoints"
    candidates = [checkpoints / files[v][0] for v in wanted]
    for path in candidates:
        if path.is_file():
            return path
    looked = "\n".join(f"  {p}" for p in candidates)
    to_put = " or ".join(f"{files[v][0]!r} ({v}, {files[v][1]})" for v in wanted)
    raise PretrainedWeightsNotFoundError(
        f"ImageNet weights for {arch!r} not found, and nothing is downloaded at run time. Looked in:\n{looked}\n"
        f"Put torchvision's file {to_put} in {checkpoints}/ (the torch hub cache, torch.hub.get_dir() + "
        f"'/checkpoints'; set TORCH_HOME to use another cache), or pass the path of a local weights file "
        f"(.pth, .pt or .safetensors) as `pretrained` instead."
    )


def _extract_state_dict(obj: Any, where: str) -> dict[str, torch.Tensor]:
    """Unwrap ``{"model": {...}, "optimizer": ...}``-style checkpoints down to a ``{name: tensor}`` mapping."""
    for _ in range(4):  # nested wrappers, e.g. {"model": {"state_dict": {...}}}
        if not isinstance(obj, Mapping):
            break
        wrapper = next((k for k in STATE_DICT_WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if wrapper is None:
            break
        obj = obj[wrapper]
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} does not hold a state dict (got {type(obj).__name__}).")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(
            f"{where} holds no tensors; top-level keys: {list(obj)[:10]} "
            f"(state dicts are also looked for under {list(STATE_DICT_WRAPPER_KEYS)})."
        )
    return tensors


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """
    Read the tensors of a weights file, safely, with the checkpoint reader
    (:func:`monai_tumorcls.checkpoint.read_checkpoint`: ``.safetensors`` files, or ``torch.load(...,
    weights_only=True)``, which refuses pickled Python objects other than tensors and plain containers). Checkpoints
    nesting the state dict under one of :py:data:`STATE_DICT_WRAPPER_KEYS` (e.g. ``{"model": ..., "optimizer":
    ...}``) are unwrapped.

    Args:
        path: the weights file.

    Returns:
        ``{key: tensor}`` on the CPU, keys as stored (prefixes are not stripped here).

    Raises:
        PretrainedWeightsNotFoundError: the file does not exist.
        ValueError: the file is refused (it pickles objects other than tensors: never unpickled), is not a readable
            weights file, or holds no state dict; one line naming it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise PretrainedWeightsNotFoundError(
            f"backbone weights file {str(path)!r} does not exist (use pretrained='imagenet' for torchvision's "
            f"ImageNet weights from the torch hub cache, or None for random initialisation)."
        )
    return _extract_state_dict(read_checkpoint(path), repr(str(path)))


def read_pretrained_source(
    source: PretrainedSource, arch: str | None, model_name: str
) -> tuple[str, dict[str, torch.Tensor]] | None:
    """``(where, state dict)`` of a pretrained source, or ``None`` for random initialisation (step 1 of
    :func:`~monai_tumorcls.networks.pretrained.load_backbone_weights`)."""
    if source is None or (isinstance(source, str) and source.strip().lower() in RANDOM_INIT_NAMES):
        # the command line gives strings: `--pretrained null` must mean what `"pretrained": null` means in JSON
        return None
    if isinstance(source, bool):
        raise TypeError(
            f"pretrained must be None, 'imagenet' or a path to a weights file, got {source!r} "
            "(use None for random initialisation, 'imagenet' for torchvision's ImageNet weights)."
        )
    if isinstance(source, Mapping):
        return "<state dict>", _extract_state_dict(source, "the given state dict")
    if isinstance(source, str) and _imagenet_versions(source) is not None:
        if not isinstance(arch, str):
            raise ValueError(f"`arch` is needed to find the {source!r} weights of {model_name}.")
        path = find_imagenet_weights(arch, source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
    else:
        raise TypeError(f"unsupported pretrained source of type {type(source).__name__}.")
    return str(path), read_state_dict(path)
