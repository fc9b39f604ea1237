"""Dictionary-based wrappers of :mod:`monai_tumorcls.transforms.intensity.array`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch

from monai.config import DtypeLike, KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.transform import MapTransform, Transform

from .array import (
    BrainMaskNormalize,
    ContrastStretch,
    HeadMaskNormalize,
    MinMaxNormalize,
    PercentileNormalize,
    ZScoreNormalize,
)

__all__ = [
    "MinMaxNormalized",
    "MinMaxNormalizeD",
    "MinMaxNormalizeDict",
    "PercentileNormalized",
    "PercentileNormalizeD",
    "PercentileNormalizeDict",
    "ZScoreNormalized",
    "ZScoreNormalizeD",
    "ZScoreNormalizeDict",
    "ContrastStretchd",
    "ContrastStretchD",
    "ContrastStretchDict",
    "BrainMaskNormalized",
    "BrainMaskNormalizeD",
    "BrainMaskNormalizeDict",
    "HeadMaskNormalized",
    "HeadMaskNormalizeD",
    "HeadMaskNormalizeDict",
]


class _IntensityMapTransform(MapTransform):
    """Apply ``self.transform`` to every key."""

    transform: Transform

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class MinMaxNormalized(_IntensityMapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.intensity.array.MinMaxNormalize`.

    Args:
        keys: keys of the items to normalise, each channel-first ``(C, H, W)``.
        channel_wise: scale each channel by its own min and max.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = MinMaxNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        channel_wise: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = MinMaxNormalize(channel_wise=channel_wise, dtype=dtype)


class PercentileNormalized(_IntensityMapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.intensity.array.PercentileNormalize`.

    Args:
        keys: keys of the items to normalise, each channel-first ``(C, H, W)``.
        lower: lower percentile, in ``[0, 100)``.
        upper: upper percentile, in ``(lower, 100]``.
        channel_wise: compute the percentiles of each channel separately.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = PercentileNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        lower: float = 1.0,
        upper: float = 99.0,
        channel_wise: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = PercentileNormalize(lower=lower, upper=upper, channel_wise=channel_wise, dtype=dtype)


class ZScoreNormalized(_IntensityMapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.intensity.array.ZScoreNormalize`.

    Args:
        keys: keys of the items to normalise, each channel-first ``(C, H, W)``.
        nonzero: statistics over, and normalisation of, non-zero values only.
        channel_wise: compute the statistics of each channel separately.
        eps: relative tolerance below which the std counts as zero (output 0).
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = ZScoreNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        nonzero: bool = False,
        channel_wise: bool = False,
        eps: float = 1e-6,
        dtype: DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = ZScoreNormalize(nonzero=nonzero, channel_wise=channel_wise, eps=eps, dtype=dtype)


class ContrastStretchd(_IntensityMapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.intensity.array.ContrastStretch`.

    Args:
        keys: keys of the items to stretch, each channel-first ``(C, H, W)``.
        lower: lower percentile, in ``[0, 100)``.
        upper: upper percentile, in ``(lower, 100]``.
        out_range: ``(min, max)`` of the output.
        channel_wise: compute the percentiles of each channel separately.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = ContrastStretch.backend

    def __init__(
        self,
        keys: KeysCollection,
        lower: float = 2.0,
        upper: float = 98.0,
        out_range: Sequence[float] = (0.0, 1.0),
        channel_wise: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = ContrastStretch(
            lower=lower, upper=upper, out_range=out_range, channel_wise=channel_wise, dtype=dtype
        )


class BrainMaskNormalized(_IntensityMapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.intensity.array.BrainMaskNormalize`.

    Args:
        keys: keys of the items to normalise, each channel-first ``(C, H, W)``.
        background: output value outside the head mask.
        eps: relative tolerance below which the std counts as zero (output 0 inside the mask).
        dtype: output dtype, floating.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = BrainMaskNormalize.backend
    #: the array transform it applies (a class attribute: the checkpoint's description of the pipeline lists only
    #: the instance's settings, and names the class)
    array_transform = BrainMaskNormalize

    def __init__(
        self,
        keys: KeysCollection,
        background: float = 0.0,
        eps: float = 1e-6,
        dtype: DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = self.array_transform(background=background, eps=eps, dtype=dtype)


class HeadMaskNormalized(BrainMaskNormalized):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.intensity.array.HeadMaskNormalize` (arguments as
    :class:`BrainMaskNormalized`)."""

    array_transform = HeadMaskNormalize


MinMaxNormalizeD = MinMaxNormalizeDict = MinMaxNormalized
PercentileNormalizeD = PercentileNormalizeDict = PercentileNormalized
ZScoreNormalizeD = ZScoreNormalizeDict = ZScoreNormalized
ContrastStretchD = ContrastStretchDict = ContrastStretchd
BrainMaskNormalizeD = BrainMaskNormalizeDict = BrainMaskNormalized
HeadMaskNormalizeD = HeadMaskNormalizeDict = HeadMaskNormalized
