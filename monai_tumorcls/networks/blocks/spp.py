"""Spatial pyramid pooling (He et al., "Spatial Pyramid Pooling in Deep Convolutional Networks", 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from monai.utils import look_up_option

__all__ = ["SpatialPyramidPooling", "SPP_POOL_TYPES"]

SPP_POOL_TYPES = ("max", "avg")


class SpatialPyramidPooling(nn.Module):
    """
    Pool a feature map into a fixed-length vector over a pyramid of ``l x l`` grids.

    Every level ``l`` adaptively pools the map into ``l x l`` bins, so any input size works (including maps
    smaller than ``l``, whose bins then overlap). The bins of each level are flattened channel-major
    (``C * l * l``) and the levels are concatenated in the order given.

    Args:
        levels: grid sizes of the pyramid, e.g. ``(1, 2, 4)`` gives ``1 + 4 + 16 = 21`` bins per channel.
        pool: ``"max"`` (default, as in the paper) or ``"avg"``.

    Example::

        spp = SpatialPyramidPooling(levels=(1, 2, 4))
        y = spp(torch.randn(2, 512, 7, 7))  # (2, 512 * 21)

    """

    def __init__(self, levels: Sequence[int] = (1, 2, 4), pool: str = "max") -> None:
        super().__init__()
        levels = tuple(int(level) for level in levels)
        if not levels or any(level < 1 for level in levels):
            raise ValueError(f"levels must be a non-empty sequence of positive ints, got {levels}.")
        self.levels = levels
        self.pool_type = look_up_option(pool, SPP_POOL_TYPES)
        pool_cls = nn.AdaptiveMaxPool2d if self.pool_type == "max" else nn.AdaptiveAvgPool2d
        self.pools = nn.ModuleList([pool_cls(level) for level in levels])

    @property
    def num_bins(self) -> int:
        """Bins per channel: ``sum(l * l for l in levels)``."""
        return sum(level * level for level in self.levels)

    def out_features(self, in_channels: int) -> int:
        """Length of the pooled vector for ``in_channels`` input channels: ``in_channels * num_bins``."""
        return in_channels * self.num_bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: feature map, shape ``(B, C, H, W)``.

        Returns:
            pooled features, shape ``(B, C * num_bins)``.
        """
        if x.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) feature map, got shape {tuple(x.shape)}.")
        return torch.cat([torch.flatten(pool(x), 1) for pool in self.pools], dim=1)
