"""Intensity normalisation for channel-first 2D images: min-max, percentile, z-score, contrast stretching and z-score
inside a head mask (Otsu's or the foreground threshold's).

All of them accept NumPy arrays, torch tensors and MetaTensors shaped ``(C, H, W)`` (any channel-first shape
works) and, like MONAI's intensity transforms, return a tensor (a MetaTensor when meta tracking is on) of a
floating dtype. They never produce NaN on constant input, never modify their input in place, and can work
per channel (``channel_wise=True``) or on the whole image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from monai.config import DtypeLike
from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.post.array import FillHoles, KeepLargestConnectedComponent
from monai.transforms.transform import Transform
from monai.transforms.utils import rescale_array
from monai.transforms.utils_pytorch_numpy_unification import clip, percentile
from monai.utils.enums import TransformBackends
from monai.utils.type_conversion import convert_to_dst_type, convert_to_tensor, get_equivalent_dtype

__all__ = ["MinMaxNormalize", "PercentileNormalize", "ZScoreNormalize", "ContrastStretch", "BrainMaskNormalize",
           "HeadMaskNormalize", "foreground_threshold", "FOREGROUND_LEVEL"]

#: where foreground starts between a slice's minimum (0) and its 99th percentile (1): the slice selection's
#: foreground fraction and :class:`HeadMaskNormalize`'s head mask
FOREGROUND_LEVEL = 0.1


def foreground_threshold(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``min + FOREGROUND_LEVEL * (p99 - min)`` of ``values`` (along ``axis``; ``None``: all of them): above it is
    tissue, below it air. The 99th percentile rather than the maximum, so that a few bright pixels do not move it."""
    low = np.min(values, axis=axis)
    return low + FOREGROUND_LEVEL * (np.percentile(values, 99, axis=axis) - low)


def _float_dtypes(dtype: DtypeLike | torch.dtype | None, img: NdarrayOrTensor) -> tuple[torch.dtype, torch.dtype]:
    """(computation dtype, output dtype); ``dtype=None`` keeps a floating input dtype, else float32."""
    out = get_equivalent_dtype(img.dtype if dtype is None else dtype, torch.Tensor)
    if not out.is_floating_point:
        if dtype is not None:
            raise ValueError(f"dtype must be a floating point type, got {dtype}.")
        out = torch.float32
    return (torch.float64 if out == torch.float64 else torch.float32), out


def _order_statistics(flat: torch.Tensor, ranks: list[int]) -> torch.Tensor:
    """``flat.sort().values[ranks]`` of a 1D tensor without NaN, from at most two partial sorts (``torch.topk``):
    each rank is taken from the nearer end, so the 0.5th/99.5th percentiles of a slice order ~1% of its values
    instead of all of them (a full sort is most of the cost of a percentile normalisation)."""
    n = flat.numel()
    small = [r for r in ranks if 2 * r < n]
    large = [r for r in ranks if 2 * r >= n]
    found: dict[int, torch.Tensor] = {}
    if small:
        ascending = torch.topk(flat, max(small) + 1, largest=False).values
        found.update((r, ascending[r]) for r in small)
    if large:
        descending = torch.topk(flat, n - min(large), largest=True).values
        found.update((r, descending[n - 1 - r]) for r in large)
    return torch.stack([found[r] for r in ranks])


def _linear_quantiles(x: torch.Tensor, q: torch.Tensor, repeats: int = 1) -> torch.Tensor:
    """``torch.quantile(x.flatten().repeat(repeats), q)`` (linear interpolation), bit for bit: the ranks, weights
    and ``lerp`` are ATen's, only the order statistics come from :func:`_order_statistics`. ``repeats`` > 1 stands
    for ``repeats`` identical copies of ``x`` (e.g. a grey slice made three-channel): their sorted values are
    ``sorted(x)[j // repeats]``, so ``x`` itself is enough. All NaN if ``x`` holds a NaN, as ``torch.quantile``."""
    flat = x.reshape(-1)
    if torch.isnan(flat.max()):  # max propagates NaN: one cheap pass instead of isnan(x).any()
        return torch.full_like(q, float("nan"))
    # ATen's ranks and weights are float64 (Python floats: the same IEEE arithmetic, without tiny-tensor ops), its
    # lerp in x's dtype
    ranks = [f * (flat.numel() * repeats - 1) for f in q.tolist()]
    below, above = [int(r) for r in ranks], [math.ceil(r) for r in ranks]
    weights = torch.tensor([r - b for r, b in zip(ranks, below)], dtype=x.dtype, device=x.device)
    values = _order_statistics(flat, [r // repeats for r in below + above])
    return torch.lerp(values[: len(q)], values[len(q) :], weights)


class _ChannelwiseIntensity(Transform):
    """Shared ``__call__``: convert, apply :meth:`_apply` per channel or to the whole image, convert back."""

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, channel_wise: bool = False, dtype: DtypeLike | torch.dtype = np.float32) -> None:
        self.channel_wise = channel_wise
        self.dtype = dtype

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            img: channel-first image, ``(C, H, W)``.

        Returns:
            normalised image, same shape, floating dtype (``self.dtype``; ``None``: the input's when floating,
            else float32).
        """
        img = convert_to_tensor(img, track_meta=get_track_meta())
        compute_dtype, out_dtype = _float_dtypes(self.dtype, img)
        img_t = convert_to_tensor(img, track_meta=False, dtype=compute_dtype)
        if self.channel_wise:
            out = torch.stack([self._apply(c) for c in img_t]) if len(img_t) else img_t.clone()
        else:
            out = self._apply(img_t)
        return convert_to_dst_type(out, dst=img, dtype=out_dtype)[0]


class MinMaxNormalize(_ChannelwiseIntensity):
    """Scale intensities linearly to ``[0, 1]``: ``(x - min) / (max - min)``.

    A constant image (or channel, with ``channel_wise``) becomes all zeros. Uses
    :func:`monai.transforms.utils.rescale_array` (as :class:`monai.transforms.ScaleIntensity` does), but the
    output is always floating point, also for integer input with ``dtype=None``.

    Args:
        channel_wise: scale each channel (first axis) by its own min and max.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
    """

    def __init__(self, channel_wise: bool = False, dtype: DtypeLike | torch.dtype = np.float32) -> None:
        super().__init__(channel_wise=channel_wise, dtype=dtype)

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0:
            return x.clone()
        return rescale_array(x, 0.0, 1.0, dtype=None)  # type: ignore[return-value]  # returns a new tensor


class ContrastStretch(_ChannelwiseIntensity):
    """Percentile contrast stretching, as ``skimage.exposure.rescale_intensity(img, in_range=(p_lower, p_upper),
    out_range=out_range)``: clip to the ``lower``/``upper`` percentiles of the image, then map that range
    linearly onto ``out_range``.

    When the percentile range collapses (``p_upper == p_lower``, e.g. a constant image) every value becomes
    ``out_range[0]``; no NaN and no warning. (MONAI's ``ScaleIntensityRangePercentiles(clip=True)`` would in that
    case warn and return the input shifted, unclipped, hence this implementation.) Percentiles use linear
    interpolation (``numpy.percentile``'s default), exactly MONAI's
    :func:`~monai.transforms.utils_pytorch_numpy_unification.percentile` values, found by partial sorts (and on
    one channel when all channels are equal, e.g. a grey slice made three-channel).

    Args:
        lower: lower percentile, in ``[0, 100)``.
        upper: upper percentile, in ``(lower, 100]``.
        out_range: ``(min, max)`` of the output.
        channel_wise: compute the percentiles of each channel separately.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
    """

    def __init__(
        self,
        lower: float = 2.0,
        upper: float = 98.0,
        out_range: Sequence[float] = (0.0, 1.0),
        channel_wise: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
    ) -> None:
        super().__init__(channel_wise=channel_wise, dtype=dtype)
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= lower < upper <= 100, got lower={lower}, upper={upper}.")
        if len(out_range) != 2 or not out_range[0] < out_range[1]:
            raise ValueError(f"out_range must be (min, max) with min < max, got {out_range}.")
        self.lower = float(lower)
        self.upper = float(upper)
        self.out_range = (float(out_range[0]), float(out_range[1]))

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        out_min, out_max = self.out_range
        if x.numel() == 0:
            return x.clone()
        lo, hi = (float(v) for v in self._percentiles(x))
        if not hi > lo:  # collapsed range (constant image) or NaN
            return torch.full_like(x, out_min)
        scaled = (clip(x, lo, hi) - lo) / (hi - lo)
        return scaled * (out_max - out_min) + out_min  # type: ignore[return-value]

    def _percentiles(self, x: torch.Tensor) -> torch.Tensor:
        """``percentile(x, [lower, upper])`` (MONAI's: ``torch.quantile``, NumPy above 1e6 values), bit for bit,
        from partial sorts; of one channel when a whole-image ``x`` repeats it (the three channels of a grey
        slice), which gives the same order statistics (see :func:`_linear_quantiles`)."""
        if x.numel() > 1_000_000:  # MONAI's percentile uses NumPy there (pytorch#64947): keep its exact values
            return percentile(x, [self.lower, self.upper])  # type: ignore[return-value]
        # MONAI's q: the float64 fractions cast to x's dtype
        q = torch.tensor([self.lower / 100.0, self.upper / 100.0], dtype=x.dtype, device=x.device)
        repeated = not self.channel_wise and x.ndim > 1 and all(torch.equal(x[0], c) for c in x[1:])
        if repeated:
            return _linear_quantiles(x[0], q, repeats=len(x))
        return _linear_quantiles(x, q)


class PercentileNormalize(ContrastStretch):
    """Clip to the ``[lower, upper]`` percentiles of the image, then scale that range to ``[0, 1]``.

    :class:`ContrastStretch` with ``out_range=(0, 1)`` and wider default percentiles (1 and 99); a collapsed
    percentile range (e.g. a constant image) gives all zeros.

    Args:
        lower: lower percentile, in ``[0, 100)``.
        upper: upper percentile, in ``(lower, 100]``.
        channel_wise: compute the percentiles of each channel separately.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
    """

    def __init__(
        self,
        lower: float = 1.0,
        upper: float = 99.0,
        channel_wise: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
    ) -> None:
        super().__init__(lower=lower, upper=upper, out_range=(0.0, 1.0), channel_wise=channel_wise, dtype=dtype)


class ZScoreNormalize(_ChannelwiseIntensity):
    """Standardise to zero mean and unit variance: ``(x - mean) / std`` (population std).

    Same statistics as :class:`monai.transforms.NormalizeIntensity` without given ``subtrahend``/``divisor``, but
    near-constant data is treated as constant: if ``std <= eps * max(1, |mean|)`` (float rounding makes the std of
    a constant float image tiny rather than zero, which ``NormalizeIntensity`` would blow up to +-1 noise) the
    values become exactly 0. The input is not modified in place.

    Args:
        nonzero: compute the statistics over non-zero values only and normalise only those; zeros stay zero
            (typical for MRI with a black background).
        channel_wise: compute the statistics of each channel separately.
        eps: relative tolerance for "constant", see above.
        dtype: output dtype, floating; ``None``: the input's when floating, else float32.
    """

    def __init__(
        self,
        nonzero: bool = False,
        channel_wise: bool = False,
        eps: float = 1e-6,
        dtype: DtypeLike | torch.dtype = np.float32,
    ) -> None:
        super().__init__(channel_wise=channel_wise, dtype=dtype)
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}.")
        self.nonzero = nonzero
        self.eps = eps

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        mask = x != 0 if self.nonzero else None
        values = x[mask] if mask is not None else x
        if values.numel() == 0:
            return x.clone()
        mean = values.mean()
        std = values.std(correction=0)
        if std <= self.eps * max(1.0, abs(float(mean))):
            normed = torch.zeros_like(values)
        else:
            normed = (values - mean) / std
        if mask is None:
            return normed
        out = x.clone()
        out[mask] = normed
        return out


class BrainMaskNormalize(Transform):
    """Z-score inside a brain (head) mask found by Otsu's threshold; every pixel outside it set to ``background``.

    Why: percentile or min-max scaling of a whole slice depends on how much of the slice is head, hence on the
    slice's level (a top slice is mostly air), so intensity itself carries the level; statistics taken inside the
    head only do not. The mask: pixels of the channel mean above ``skimage.filters.threshold_otsu`` (no weights),
    (the middle of Otsu's plateau where
    air and tissue are separated by an empty stretch of the histogram), its largest connected component (MONAI ``KeepLargestConnectedComponent``: drops bright specks in the air) with
    holes filled (MONAI ``FillHoles``: dark ventricles and lesions stay inside). Mean and std are over all
    channels inside the mask. A constant image (or one whose mask has a near-zero std) gives all ``background``
    pixels / zeros inside; never NaN. The input is not modified.

    Args:
        background: output value outside the mask (0 = the brain's mean intensity).
        eps: std at or below ``eps * max(1, |mean|)`` counts as constant.
        dtype: output dtype, floating.

    Example::

        BrainMaskNormalize()(slice_chw)  # mean 0, std 1 inside the head; 0 outside
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, background: float = 0.0, eps: float = 1e-6, dtype: DtypeLike | torch.dtype = np.float32) -> None:
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}.")
        self.background = float(background)
        self.eps = eps
        self.dtype = dtype

    @classmethod
    def brain_mask(cls, img: NdarrayOrTensor) -> torch.Tensor:
        """``(H, W)`` bool head mask of a channel-first image: its channel mean above :meth:`threshold`, largest
        component, holes filled (see the class doc); all False for a constant image."""
        grey = convert_to_tensor(img, track_meta=False, dtype=torch.float32).mean(dim=0)
        if grey.numel() == 0 or not bool(grey.max() > grey.min()):
            return torch.zeros(grey.shape, dtype=torch.bool)
        mask = FillHoles()(KeepLargestConnectedComponent()((grey > cls.threshold(grey.numpy()))[None]))
        return convert_to_tensor(mask, track_meta=False)[0].bool()

    @staticmethod
    def threshold(values: np.ndarray) -> float:
        """Otsu's threshold of ``values``, the middle of its plateau."""
        from skimage.filters import threshold_otsu

        # Otsu's between-class variance is flat over an empty stretch of the histogram (air far darker than
        # tissue), and threshold_otsu takes the first bin of that plateau, right on the air's brightest pixel;
        # the Otsu threshold of the negated image is the plateau's other end: take the middle.
        return 0.5 * (float(threshold_otsu(values)) - float(threshold_otsu(-values)))

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            img: channel-first image, ``(C, H, W)``.

        Returns:
            same shape, ``self.dtype``: z-scores inside the head mask, ``background`` outside.
        """
        img = convert_to_tensor(img, track_meta=get_track_meta())
        compute_dtype, out_dtype = _float_dtypes(self.dtype, img)
        x = convert_to_tensor(img, track_meta=False, dtype=compute_dtype)
        inside = self.brain_mask(x)
        out = torch.full_like(x, self.background)
        values = x[:, inside]
        if values.numel():
            mean, std = values.mean(), values.std(correction=0)
            constant = std <= self.eps * max(1.0, abs(float(mean)))
            out[:, inside] = torch.zeros_like(values) if constant else (values - mean) / std
        return convert_to_dst_type(out, dst=img, dtype=out_dtype)[0]


class HeadMaskNormalize(BrainMaskNormalize):
    """:class:`BrainMaskNormalize` with another mask: pixels of the channel mean above :func:`foreground_threshold`
    (the rule that counts a slice's foreground when volumes are sliced), largest component, holes filled.

    Why: Otsu's threshold splits a histogram in two. Where the head holds a third, brighter class (scalp and
    marrow fat on T1, contrast uptake, the bright rim of a FLAIR slice), it can fall between brain and fat, and the
    Otsu mask is then the fat ring or a part of the brain. On Kaggle, LGG, IXI and the shared volumes
    (``docs/reports/head_mask.md``) the Otsu mask fills less than 85 % of its convex hull in 5-70 % of a source's
    images (LGG FLAIR 40 %, IXI 33 %), unevenly by class (Kaggle `glioma` 12 %, `pituitary` 34 %): an artefact that
    differs by class and by level. This mask does so in 0-11 % (mostly vertex specks and sinus air).

    Args, output and behaviour on constant images: as :class:`BrainMaskNormalize`.

    Example::

        HeadMaskNormalize()(slice_chw)  # mean 0, std 1 inside the head; 0 outside
    """

    @staticmethod
    def threshold(values: np.ndarray) -> float:
        """:func:`foreground_threshold` of ``values``."""
        return float(foreground_threshold(values))
