"""Spatial pyramid pooling (He et al., "Spatial Pyramid Pooling in Deep Convolutional Networks", 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from monai.utils import look_up_option

__all__ = ["SpatialPyramidPooling", "SPP_POOL_TYPES"]

SPP_POOL_TYPES = ("max", "avg")


def _exporting() -> bool:
    """True while a network is traced or exported (``torch.jit.trace``, ``torch.export``, ONNX)."""
    if torch.jit.is_scripting():
        return False
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


class SpatialPyramidPooling(nn.Module):
    """
    Pool a feature map into a fixed-length vector over a pyramid of ``l x l`` grids.

    Every level ``l`` adaptively pools the map into ``l x l`` bins, so any input size works (including maps
    smaller than ``l``, whose bins then overlap). The bins of each level are flattened channel-major
    (``C * l * l``) and the levels are concatenated in the order given.

    Eager and scripted, each level is one adaptive pooling call. While tracing or exporting (``torch.jit.trace``,
    ``torch.export``, ONNX) the bins are cut explicitly instead (the bounds of adaptive pooling, same values),
    because ONNX has no adaptive max pooling and the legacy exporter refuses adaptive pooling whose bins do not
    divide the map (a 7x7 map at level 4). The explicit bins are not used for training: their backward pass
    (a full-size gradient per bin) took about ten times as long as adaptive pooling's on a ResNet-50 map.

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
            raise ValueError(f"expected a (B, C, H, W) feature map, got shape {list(x.shape)}.")
        if _exporting():
            return torch.cat([self._pool_level(x, level) for level in self.levels], dim=1)
        if self.pool_type == "max":
            return torch.cat([F.adaptive_max_pool2d(x, level).flatten(1) for level in self.levels], dim=1)
        return torch.cat([F.adaptive_avg_pool2d(x, level).flatten(1) for level in self.levels], dim=1)

    def _pool_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """``(B, C, H, W) -> (B, C * level * level)``, bin ``(i, j)`` spanning rows
        ``floor(i * H / level) .. ceil((i + 1) * H / level)`` and the same for columns (adaptive pooling's bins)."""
        height, width = x.shape[2], x.shape[3]
        bins: list[torch.Tensor] = []
        for i in range(level):
            rows = x[:, :, (i * height) // level : -((-(i + 1) * height) // level)]
            for j in range(level):
                cell = rows[:, :, :, (j * width) // level : -((-(j + 1) * width) // level)]
                bins.append(cell.amax(dim=(2, 3)) if self.pool_type == "max" else cell.mean(dim=(2, 3)))
        return torch.stack(bins, dim=2).flatten(1)
