"""Channel-count adaptation for 3-channel (ImageNet) backbones."""

from __future__ import annotations

from .array import EnsureThreeChannel
from .dictionary import EnsureThreeChannelD, EnsureThreeChanneld, EnsureThreeChannelDict

__all__ = ["EnsureThreeChannel", "EnsureThreeChanneld", "EnsureThreeChannelD", "EnsureThreeChannelDict"]
