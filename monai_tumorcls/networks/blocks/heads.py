"""Classification heads: each maps a backbone feature map ``(B, C, h, w)`` to logits ``(B, num_classes)``.

Heads do their own pooling, so they can be trained alone on cached feature maps of a frozen trunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from monai.utils import look_up_option

from .spp import SpatialPyramidPooling

__all__ = ["LinearHead", "DenseHead", "SPPHead", "HEADS", "HeadOptions", "build_head"]


def _check_feature_map(x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"heads take a (B, C, h, w) feature map, got shape {list(x.shape)}.")


class LinearHead(nn.Module):
    """
    Global average pooling -> optional dropout -> linear layer (the torchvision ResNet classifier).

    Args:
        in_channels: channels ``C`` of the input feature map.
        num_classes: number of output logits.
        dropout: dropout probability before the linear layer; ``0.0`` (default) adds no dropout.

    Shapes:
        ``(B, in_channels, h, w) -> (B, num_classes)``
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_feature_map(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(self.dropout(x))


class DenseHead(nn.Module):
    """
    Global average pooling -> dropout -> linear -> ReLU -> dropout -> linear.

    Args:
        in_channels: channels ``C`` of the input feature map.
        num_classes: number of output logits.
        hidden_features: width of the hidden layer. Defaults to 128.
        dropout: dropout probability of both dropout layers. Defaults to 0.2.

    Shapes:
        ``(B, in_channels, h, w) -> (B, num_classes)``
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_features: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout1 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(in_channels, hidden_features)
        self.act = nn.ReLU(inplace=True)
        self.dropout2 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_feature_map(x)
        x = torch.flatten(self.pool(x), 1)
        x = self.act(self.fc1(self.dropout1(x)))
        return self.fc2(self.dropout2(x))


class SPPHead(nn.Module):
    """
    Spatial pyramid pooling -> dropout -> linear layer.

    Args:
        in_channels: channels ``C`` of the input feature map.
        num_classes: number of output logits.
        levels: pyramid grid sizes, see :py:class:`SpatialPyramidPooling`. Defaults to ``(1, 2, 4)``.
        pool: ``"max"`` (default) or ``"avg"`` pooling within each bin.
        dropout: dropout probability before the linear layer. Defaults to 0.5.

    Shapes:
        ``(B, in_channels, h, w) -> (B, num_classes)``; the linear layer sees
        ``in_channels * sum(l * l for l in levels)`` features whatever ``h, w``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        levels: Sequence[int] = (1, 2, 4),
        pool: str = "max",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.spp = SpatialPyramidPooling(levels=levels, pool=pool)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.spp.out_features(in_channels), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_feature_map(x)
        return self.fc(self.dropout(self.spp(x)))


HEADS: dict[str, type[nn.Module]] = {"linear": LinearHead, "dense": DenseHead, "spp": SPPHead}


def build_head(name: str, in_channels: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """
    Create a head by name.

    Args:
        name: ``"linear"`` (:py:class:`LinearHead`), ``"dense"`` (:py:class:`DenseHead`)
            or ``"spp"`` (:py:class:`SPPHead`).
        in_channels: channels of the feature map the head receives.
        num_classes: number of output logits.
        kwargs: the head's other constructor arguments (e.g. ``dropout``, ``hidden_features``, ``levels``, ``pool``).

    Example::

        head = build_head("spp", in_channels=512, num_classes=4, levels=(1, 2, 4), dropout=0.5)

    """
    head_cls = look_up_option(name, HEADS)
    return head_cls(in_channels=in_channels, num_classes=num_classes, **kwargs)


@dataclass(frozen=True)
class HeadOptions:
    """The options of a named head (:func:`build_head`); each head takes the ones it has.

    Attributes:
        dropout: dropout probability of the head; ``None`` (default) uses the head's own default (linear 0.0,
            dense 0.2, spp 0.5).
        hidden_features: hidden width of the ``"dense"`` head.
        spp_levels: pyramid grid sizes of the ``"spp"`` head.
        spp_pool: ``"max"`` or ``"avg"`` pooling of the ``"spp"`` head.
    """

    dropout: float | None = None
    hidden_features: int = 128
    spp_levels: Sequence[int] = (1, 2, 4)
    spp_pool: str = "max"

    def head_kwargs(self, name: str) -> dict[str, Any]:
        """The :func:`build_head` keyword arguments of head ``name`` (``"linear"``, ``"dense"`` or ``"spp"``)."""
        kwargs: dict[str, Any] = {} if self.dropout is None else {"dropout": self.dropout}
        if name == "dense":
            kwargs["hidden_features"] = self.hidden_features
        elif name == "spp":
            kwargs.update(levels=self.spp_levels, pool=self.spp_pool)
        return kwargs
