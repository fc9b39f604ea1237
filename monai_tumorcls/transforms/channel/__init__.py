"""Channel-count adaptation for 3-channel (ImageNet) backbones."""

from __future__ import annotations

from .array import EnsureThreeChannel, SelectChannel
from .dictionary import (
    EnsureThreeChannelD,
    EnsureThreeChanneld,
    EnsureThreeChannelDict,
    SelectChannelD,
    SelectChanneld,
    SelectChannelDict,
)

__all__ = ["EnsureThreeChannel", "EnsureThreeChanneld", "EnsureThreeChannelD", "EnsureThreeChannelDict",
    "SelectChannel", "SelectChanneld", "SelectChannelD", "SelectChannelDict"]
