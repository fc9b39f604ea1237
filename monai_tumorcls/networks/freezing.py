"""Freezing policies for transfer learning: which stages train, and frozen BatchNorm kept in eval mode.

Stages are named as in :py:class:`~monai_tumorcls.networks.nets.ResNetClassifier`: ``conv1``, ``bn1``,
``layer1`` ... ``layer4`` (children of ``features``), ``features`` (the whole trunk) and ``head``. A policy string
joins them with ``+``: ``"head"``, ``"layer4+head"``, ``"layer3+layer4+head"``, ``"all"``.

Frozen parameters get ``requires_grad=False``, so autograd records nothing for a fully frozen prefix of the
network and ``backward`` does not run through it. With ``freeze_bn=True`` (default) the BatchNorm layers of frozen
parts also stay in eval mode when ``model.train()`` is called, so their running statistics never change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    "POLICY_STAGES",
    "ParameterCount",
    "parse_trainable_policy",
    "set_trainable",
    "freeze_backbone",
    "set_frozen_bn_eval",
    "frozen_bn_modules",
    "trainable_parameters",
    "count_parameters",
    "parameter_summary",
]

logger = logging.getLogger(__name__)

#: names a policy string may use; ``"all"`` and ``"none"`` stand alone.
POLICY_STAGES = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "features", "head", "all", "none")
_TRUNK_STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
_FROZEN_BN_FLAG = "_tumorcls_frozen_bn"


class ParameterCount(NamedTuple):
    """Numbers of parameter elements (not tensors)."""

    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


def parse_trainable_policy(policy: str) -> tuple[str, ...]:
    """
    Parse a policy string into the stage names to train.

    Args:
        policy: stage names joined by ``+`` (or ``,``), e.g. ``"head"``, ``"layer4+head"``,
            ``"layer3+layer4+head"``; ``"all"`` trains everything, ``"none"`` nothing. Case and spaces are ignored.

    Returns:
        the stage names in the order given, e.g. ``("layer4", "head")``; ``("all",)``; ``()`` for ``"none"``.

    Raises:
        ValueError: empty policy, unknown stage name (see :py:data:`POLICY_STAGES`), or ``all``/``none`` combined
            with other names.
    """
    tokens = [t.strip().lower() for t in policy.replace(",", "+").split("+")]
    if not policy.strip() or any(not t for t in tokens):
        raise ValueError(
            f"invalid trainable policy {policy!r}: expected stage names joined by '+', e.g. 'layer4+head'."
        )
    unknown = [t for t in tokens if t not in POLICY_STAGES]
    if unknown:
        raise ValueError(f"invalid trainable policy {policy!r}: unknown stage(s) {unknown}, expected {POLICY_STAGES}.")
    names = tuple(dict.fromkeys(tokens))
    if ("all" in names or "none" in names) and len(names) > 1:
        raise ValueError(f"invalid trainable policy {policy!r}: 'all' and 'none' cannot be combined with stages.")
    return () if names == ("none",) else names


def _resolve(model: nn.Module, name: str) -> str:
    """Module path for ``name``: an exact dotted path, else the shallowest module whose path ends with ``.name``."""
    paths = [p for p, _ in model.named_modules()]
    if name in paths:
        return name
    hits = [p for p in paths if p.endswith("." + name)]
    if hits:
        depth = min(p.count(".") for p in hits)
        hits = [p for p in hits if p.count(".") == depth]
        if len(hits) == 1:
            return hits[0]
        raise ValueError(f"stage name {name!r} is ambiguous in {type(model).__name__}: {hits}; use a dotted path.")
    top = [p for p in paths if p and p.count(".") <= 1]
    raise ValueError(f"no module named {name!r} in {type(model).__name__}; modules include {top}.")


def _under(name: str, paths: Sequence[str]) -> bool:
    return any(p == "" or name == p or name.startswith(p + ".") for p in paths)


def _keep_frozen_bn_in_eval(module: nn.Module, args) -> None:
    """Forward pre-hook: a frozen BatchNorm switched to training mode goes back to eval before it runs."""
    if module.training and getattr(module, _FROZEN_BN_FLAG, False):
        module.training = False


def _set_bn_frozen(bn: nn.Module, frozen: bool, training: bool) -> None:
    if frozen:
        setattr(bn, _FROZEN_BN_FLAG, True)
        if _keep_frozen_bn_in_eval not in bn._forward_pre_hooks.values():
            bn.register_forward_pre_hook(_keep_frozen_bn_in_eval)
        bn.train(False)
    elif getattr(bn, _FROZEN_BN_FLAG, False):
        setattr(bn, _FROZEN_BN_FLAG, False)
        bn.train(training)


def set_frozen_bn_eval(model: nn.Module) -> None:
    """Put the BatchNorm layers frozen by :py:func:`set_trainable` back into eval mode (call after ``model.train()``
    on models that do not do it themselves; a forward pre-hook also does it before each frozen layer runs)."""
    for module in model.modules():
        if getattr(module, _FROZEN_BN_FLAG, False):
            module.train(False)


def frozen_bn_modules(model: nn.Module) -> list[str]:
    """Names of the BatchNorm layers whose statistics are frozen (kept in eval mode)."""
    return [n for n, m in model.named_modules() if getattr(m, _FROZEN_BN_FLAG, False)]


def set_trainable(
    model: nn.Module, trainable: str | Iterable[str] = ("layer3", "layer4", "head"), freeze_bn: bool = True
) -> nn.Module:
    """
    Train only the named stages; freeze every other parameter (``requires_grad=False``).

    Args:
        model: e.g. a :py:class:`~monai_tumorcls.networks.nets.ResNetClassifier`.
        trainable: a policy string (see :py:func:`parse_trainable_policy`) or module names. A name is an exact
            dotted path (``"features.layer4"``) or the last component of one (``"layer4"``, resolved to the
            shallowest match); ``"all"`` unfreezes everything. Defaults to ``("layer3", "layer4", "head")``.
        freeze_bn: keep the BatchNorm layers of frozen parts in eval mode, also after ``model.train()``, so their
            running statistics do not change. Defaults to True. BatchNorm layers of trainable parts train normally.

    Returns:
        ``model``, modified in place.
    """
    names = parse_trainable_policy(trainable) if isinstance(trainable, str) else tuple(trainable)
    paths = [""] if "all" in names else [_resolve(model, n) for n in names]
    for name, param in model.named_parameters():
        param.requires_grad_(_under(name, paths))
    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm):
            _set_bn_frozen(module, freeze_bn and not _under(name, paths), model.training)
    counts = count_parameters(model)
    logger.info(
        "trainable stages %s: %s of %s parameters trainable, %d BatchNorm layers frozen in eval mode.",
        "+".join(names) or "none",
        f"{counts.trainable:,}",
        f"{counts.total:,}",
        len(frozen_bn_modules(model)),
    )
    return model


def freeze_backbone(model: nn.Module, freeze_bn: bool = True, head: str = "head") -> nn.Module:
    """Freeze everything except the head: ``set_trainable(model, (head,), freeze_bn)``."""
    return set_trainable(model, (head,), freeze_bn=freeze_bn)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters with ``requires_grad=True``, e.g. for ``torch.optim.Adam(trainable_parameters(model))``."""
    return [p for p in model.parameters() if p.requires_grad]


def count_parameters(model: nn.Module) -> ParameterCount:
    """Total and trainable numbers of parameter elements."""
    params = list(model.parameters())
    return ParameterCount(sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad))


def _stage_of(param_name: str) -> str:
    parts = param_name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part in _TRUNK_STAGES:
            return ".".join(parts[: i + 1])
    return parts[0] if len(parts) > 1 else param_name


def parameter_summary(model: nn.Module) -> str:
    """
    A table of trainable / total parameters per stage (``features.conv1`` ... ``features.layer4``, ``head``).

    Example output::

        stage            trainable        total
        features.conv1           0        9,408
        ...
        head                 2,052        2,052
        total                2,052   11,178,564  (0.02% trainable, 25 BatchNorm layers frozen)
    """
    stages: dict[str, list[int]] = {}
    for name, param in model.named_parameters():
        entry = stages.setdefault(_stage_of(name), [0, 0])
        entry[1] += param.numel()
        entry[0] += param.numel() if param.requires_grad else 0
    counts = count_parameters(model)
    width = max([len("stage"), len("total"), *map(len, stages)])
    lines = [f"{'stage':<{width}} {'trainable':>12} {'total':>12}"]
    lines += [f"{s:<{width}} {t:>12,} {n:>12,}" for s, (t, n) in stages.items()]
    share = 100.0 * counts.trainable / counts.total if counts.total else 0.0
    lines.append(
        f"{'total':<{width}} {counts.trainable:>12,} {counts.total:>12,}  "
        f"({share:.2f}% trainable, {len(frozen_bn_modules(model))} BatchNorm layers frozen)"
    )
    return "\n".join(lines)
