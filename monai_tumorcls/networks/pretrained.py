"""Backbone weights into ResNet trunks: source keys mapped onto the trunk's (prefixes stripped, classifier keys
dropped), shapes checked, a first convolution adapted to another number of input channels, and a report of what
was loaded. Finding and reading the weight files is :mod:`monai_tumorcls.networks.weight_files`' job (its names
are re-exported here, where they have always been importable from).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .weight_files import (
    IMAGENET_SOURCES,
    RANDOM_INIT_NAMES,
    STATE_DICT_WRAPPER_KEYS,
    PretrainedSource,
    PretrainedWeightsNotFoundError,
    find_imagenet_weights,
    imagenet_weight_files,
    read_pretrained_source,
    read_state_dict,
)

__all__ = [
    "PretrainedSource",
    "PretrainedWeightsNotFoundError",
    "BackboneLoadResult",
    "TRUNK_STAGES",
    "IMAGENET_SOURCES",
    "STATE_DICT_WRAPPER_KEYS",
    "DEFAULT_STRIP_PREFIXES",
    "CLASSIFIER_PREFIXES",
    "RANDOM_INIT_NAMES",
    "imagenet_weight_files",
    "find_imagenet_weights",
    "read_state_dict",
    "get_trunk",
    "load_backbone_weights",
]

logger = logging.getLogger(__name__)

#: child module names of a torchvision ResNet trunk (everything before ``avgpool``/``fc``).
TRUNK_STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
#: leading key components stripped (repeatedly) until a key names a trunk tensor.
DEFAULT_STRIP_PREFIXES = (
    "module",
    "_orig_mod",
    "features",
    "backbone",
    "encoder",
    "encoder_q",
    "model",
    "net",
    "network",
)
#: leading key components of classifiers (torchvision's ImageNet ``fc``, our ``head``): dropped, never loaded.
CLASSIFIER_PREFIXES = ("fc", "head")


@dataclass
class BackboneLoadResult:
    """
    What :py:func:`load_backbone_weights` did.

    Attributes:
        source: the file read (or ``"<state dict>"``); ``None`` for random initialisation.
        loaded: trunk keys that received a tensor from the source.
        missing: trunk keys the source did not provide (left as initialised); ``num_batches_tracked`` is not counted.
        unexpected: source keys that match no trunk key (after prefix stripping), other than classifier keys.
        dropped: classifier keys (``fc.*``, ``head.*``) that were ignored.
        adapted: trunk keys whose tensor was adapted to a different number of input channels.
    """

    source: str | None
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)


def get_trunk(model_or_trunk: nn.Module) -> nn.Module:
    """
    The ResNet trunk of a model: the module itself when it has ``conv1`` and ``layer1..layer4`` children
    (a :py:class:`~monai_tumorcls.networks.nets.ResNetFeatures` or a torchvision ``ResNet``),
    else its ``features`` child (a :py:class:`~monai_tumorcls.networks.nets.ResNetClassifier`).
    """
    required = ("conv1", "layer1", "layer2", "layer3", "layer4")
    for candidate in (model_or_trunk, getattr(model_or_trunk, "features", None)):
        if isinstance(candidate, nn.Module) and all(
            isinstance(getattr(candidate, n, None), nn.Module) for n in required
        ):
            return candidate
    raise TypeError(
        f"{type(model_or_trunk).__name__} is not a ResNet trunk and has no `features` trunk "
        f"(expected children {required})."
    )


def _adapt_input_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Adapt a ``(O, 3, k, k)`` first-conv kernel to ``in_channels`` inputs (sum for 1, else repeat and rescale)."""
    src = weight.shape[1]
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_channels / src)
    return weight.repeat(1, repeats, 1, 1)[:, :in_channels] * (src / in_channels)


def _match(key: str, targets: Mapping[str, Any], strip: Sequence[str]) -> tuple[str, bool]:
    """Strip leading components in ``strip`` until ``key`` names a target; return (normalised key, matched)."""
    while key not in targets:
        first, _, rest = key.partition(".")
        if not rest or first not in strip:
            return key, False
        key = rest
    return key, True


def _short(keys: Sequence[str], n: int = 10) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def load_backbone_weights(
    model_or_trunk: nn.Module,
    source: PretrainedSource,
    arch: str | None = None,
    *,
    strict: bool = False,
    adapt_input_channels: bool = True,
    strip_prefixes: Sequence[str] = DEFAULT_STRIP_PREFIXES,
) -> BackboneLoadResult:
    """
    Load backbone weights into the ResNet trunk of a model, in place.

    Keys may be in torchvision's layout (``conv1.weight``, ``layer1.0.bn1.running_mean``), in
    :py:class:`~monai_tumorcls.networks.nets.ResNetClassifier`'s (``features.conv1.weight``) or carry prefixes
    such as ``module.`` (DataParallel), ``_orig_mod.`` (torch.compile), ``backbone.`` or ``encoder.``
    (see :py:data:`DEFAULT_STRIP_PREFIXES`). Classifier keys (``fc.*``, e.g. ImageNet's 1000-class layer, and
    ``head.*``) are dropped. The head of ``model_or_trunk`` is never touched.

    Args:
        model_or_trunk: a :py:class:`~monai_tumorcls.networks.nets.ResNetClassifier`, a
            :py:class:`~monai_tumorcls.networks.nets.ResNetFeatures` trunk or a torchvision ``ResNet``.
        source: ``None`` (keep the random initialisation; logged at INFO), ``"imagenet"`` /
            ``"imagenet1k_v1"`` / ``"imagenet1k_v2"`` (torchvision's file from the torch hub cache, see
            :py:func:`find_imagenet_weights`), a path to a ``.pth``/``.pt``/``.safetensors`` file
            (see :py:func:`read_state_dict`), or an in-memory ``{key: tensor}`` mapping.
        arch: torchvision architecture name (``"resnet18"`` ...), needed for the ImageNet keywords; defaults to
            the ``backbone`` attribute of ``model_or_trunk`` or the ``arch`` attribute of its trunk.
        strict: raise when the source leaves trunk keys missing. Defaults to False (they are logged as a warning).
        adapt_input_channels: when the trunk's ``conv1`` takes a different number of input channels than the
            source (e.g. 1-channel input, 3-channel ImageNet weights), adapt the kernel (sum over channels for one
            input channel, otherwise repeat and rescale). Defaults to True; with False this raises like any other
            shape mismatch.
        strip_prefixes: leading key components removed (repeatedly) to find the trunk key.

    Returns:
        a :py:class:`BackboneLoadResult` listing loaded, missing, unexpected and dropped keys.

    Raises:
        PretrainedWeightsNotFoundError: the weights file (or, for ``"imagenet"``, every candidate file) is missing.
        ValueError: no key of the source matches the trunk (wrong file), two source keys map to the same trunk key,
            a tensor's shape differs from the trunk's (the message names the key), or ``strict`` and keys are missing.
        ValueError: the file pickles objects other than tensors (never unpickled), or is unreadable.
    """
    trunk = get_trunk(model_or_trunk)
    if arch is None:
        candidates = (getattr(model_or_trunk, "backbone", None), getattr(trunk, "arch", None))
        arch = next((a for a in candidates if isinstance(a, str)), None)
    name = arch or type(trunk).__name__
    loaded = read_pretrained_source(source, arch, type(trunk).__name__)
    if loaded is None:
        logger.info("%s backbone: random initialisation (pretrained=None), no weights loaded.", name)
        return BackboneLoadResult(source=None)
    where, state = loaded
    own = trunk.state_dict()
    targets = {k: v for k, v in own.items() if k.split(".", 1)[0] in TRUNK_STAGES}
    fit = _adapt_first_conv if adapt_input_channels else None
    new_state, result = _map_to_trunk(state, targets, strip_prefixes, where, name, fit)
    result.missing = [k for k in targets if k not in new_state and not k.endswith("num_batches_tracked")]
    if result.missing and strict:
        raise ValueError(f"{where}: {len(result.missing)} trunk keys missing: {_short(result.missing)}.")
    trunk.load_state_dict({**own, **new_state}, strict=True)
    _log_result(result, name, len(targets))
    return result


def _adapt_first_conv(target: str, tensor: torch.Tensor, expected: torch.Size) -> torch.Tensor | None:
    """Shape hook of :func:`_map_to_trunk`: a first-conv kernel for another number of input channels, adapted;
    ``None`` for any other mismatch."""
    if target == "conv1.weight" and tensor.ndim == 4 and tensor.shape[0] == expected[0] and tensor.shape[2:] == expected[2:]:
        return _adapt_input_conv(tensor, expected[1])
    return None


def _map_to_trunk(
    state: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    strip_prefixes: Sequence[str],
    where: str,
    name: str,
    fit: Callable[[str, torch.Tensor, torch.Size], torch.Tensor | None] | None,
) -> tuple[dict[str, torch.Tensor], BackboneLoadResult]:
    """Step 2: the source tensors under their trunk keys (classifier keys dropped, others reported), shapes checked;
    ``fit`` may adapt a tensor whose shape differs (returns ``None`` to refuse)."""
    result = BackboneLoadResult(source=where)
    new_state: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, tensor in state.items():
        target, matched = _match(key, targets, strip_prefixes)
        if not matched:
            (result.dropped if target.split(".", 1)[0] in CLASSIFIER_PREFIXES else result.unexpected).append(key)
            continue
        if target in origin:
            raise ValueError(f"{where}: keys {origin[target]!r} and {key!r} both map to trunk key {target!r}.")
        origin[target] = key
        expected = targets[target].shape
        if tensor.shape != expected:
            fitted = fit(target, tensor, expected) if fit is not None else None
            if fitted is None:
                raise ValueError(
                    f"{where}: shape mismatch for trunk key {target!r} (source key {key!r}): file has "
                    f"{tuple(tensor.shape)}, the {name} trunk expects {tuple(expected)}. Is it a weights file of "
                    f"another architecture?"
                )
            logger.info("%s backbone: adapted %s from %d to %d input channels.", name, target, tensor.shape[1], expected[1])
            result.adapted.append(target)
            tensor = fitted
        new_state[target] = tensor
        result.loaded.append(target)
    if not new_state:
        raise ValueError(
            f"{where}: no key matches the {name} trunk, is it the right file? Source keys: "
            f"{_short(list(state))}; expected keys such as 'conv1.weight', 'layer1.0.conv1.weight' "
            f"(optionally prefixed by one of {list(strip_prefixes)})."
        )
    return new_state, result


def _log_result(result: BackboneLoadResult, name: str, n_targets: int) -> None:
    """Step 3: what was loaded, and warnings for what was missing or unused."""
    where = result.source
    logger.info(
        "%s backbone: loaded %d/%d trunk tensors from %s%s.",
        name,
        len(result.loaded),
        n_targets,
        where,
        f" (dropped {len(result.dropped)} classifier tensors)" if result.dropped else "",
    )
    if result.missing:
        logger.warning("%s backbone: keys missing from %s, left as initialised: %s", name, where, _short(result.missing))
    if result.unexpected:
        logger.warning("%s backbone: keys of %s not used: %s", name, where, _short(result.unexpected))
