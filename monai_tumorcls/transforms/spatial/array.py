"""Random flips and rotations of channel-first 2D images, built on MONAI's ``Flip``, ``RandRotate`` and
``RandRotate90`` and invertible through MONAI's ``inverse`` machinery.

Axes are spatial-axis indices of the channel-first input, ``(C, H, W)`` or, straight from
:class:`~monai_tumorcls.data.readers.raster.RasterImageReader` and ``EnsureChannelFirst``, ``(C, W, H)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai.config import DtypeLike
from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.data.meta_tensor import get_spatial_ndim
from monai.transforms.inverse import InvertibleTransform
from monai.transforms.spatial.array import Flip, RandRotate, RandRotate90
from monai.transforms.transform import LazyTransform, RandomizableTransform
from monai.utils import GridSampleMode, GridSamplePadMode, TraceKeys, ensure_tuple
from monai.utils.type_conversion import convert_to_tensor

__all__ = ["RandFlipAxes", "RandRotateAngle", "RandRotate90Choice"]


class RandFlipAxes(RandomizableTransform, InvertibleTransform, LazyTransform):
    """Flip each spatial axis independently, each with its own probability.

    With the defaults, a 2D image is flipped along axis 0 with probability ``prob`` and, independently, along
    axis 1 with probability ``prob``: no flip, either flip, or both (= a 180 degree rotation). MONAI's
    ``RandFlip`` flips all its axes together with one probability and ``RandAxisFlip`` picks one axis; this
    draws one Bernoulli per axis. The flip is done by :class:`monai.transforms.Flip` and is invertible.

    Args:
        prob: flip probability, one for all axes or one per axis in ``spatial_axis`` (or per spatial axis
            of the input when ``spatial_axis`` is None).
        spatial_axis: spatial axes that may be flipped; ``None`` means all of them.
        lazy: execute lazily (MONAI lazy resampling).
    """

    backend = Flip.backend

    def __init__(
        self,
        prob: float | Sequence[float] = 0.1,
        spatial_axis: Sequence[int] | int | None = None,
        lazy: bool = False,
    ) -> None:
        RandomizableTransform.__init__(self, prob=1.0)  # the per-axis probabilities below decide
        LazyTransform.__init__(self, lazy=lazy)
        self.axis_probs = tuple(float(p) for p in ensure_tuple(prob))
        if not self.axis_probs or any(not 0.0 <= p <= 1.0 for p in self.axis_probs):
            raise ValueError(f"prob must be in [0, 1] (one value or one per axis), got {prob}.")
        self.spatial_axis = None if spatial_axis is None else tuple(int(a) for a in ensure_tuple(spatial_axis))
        if self.spatial_axis is not None and len(self.axis_probs) not in (1, len(self.spatial_axis)):
            raise ValueError(f"{len(self.axis_probs)} probabilities given for spatial axes {self.spatial_axis}.")
        self.flip_axes: tuple[int, ...] = ()
        self.flipper = Flip(spatial_axis=None, lazy=lazy)

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, val: bool):
        self.flipper.lazy = val
        self._lazy = val

    def randomize(self, data: NdarrayOrTensor) -> None:
        """Draw one flip decision per axis (always one random number per axis, flipped or not).

        Args:
            data: the image, needed for its number of spatial axes when ``spatial_axis`` is None.
        """
        axes = self.spatial_axis if self.spatial_axis is not None else tuple(range(get_spatial_ndim(data)))
        probs = self.axis_probs * len(axes) if len(self.axis_probs) == 1 else self.axis_probs
        if len(probs) != len(axes):
            raise ValueError(f"{len(self.axis_probs)} probabilities given for {len(axes)} spatial axes.")
        draws = [self.R.rand() < p for p in probs]
        self.flip_axes = tuple(a for a, flip in zip(axes, draws) if flip)
        self._do_transform = bool(self.flip_axes)

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True, lazy: bool | None = None) -> torch.Tensor:
        """
        Args:
            img: channel-first image ``(C, H, W)``.
            randomize: draw new flips first (``False``: reuse the last draw).
            lazy: override ``self.lazy`` for this call.

        Returns:
            the (possibly) flipped image, same shape, as a tensor (MetaTensor when tracking meta).
        """
        if randomize:
            self.randomize(img)
        lazy_ = self.lazy if lazy is None else lazy
        if self._do_transform:
            self.flipper.spatial_axis = self.flip_axes
            out = self.flipper(img, lazy=lazy_)  # type: ignore[arg-type]
        else:
            out = convert_to_tensor(img, track_meta=get_track_meta())
        self.push_transform(out, replace=True, lazy=lazy_)
        return out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        transform = self.pop_transform(data)
        if not transform[TraceKeys.DO_TRANSFORM]:
            return data
        flipper = Flip(spatial_axis=transform[TraceKeys.EXTRA_INFO][TraceKeys.EXTRA_INFO]["axes"])
        with flipper.trace_transform(False):
            return flipper(data)


class RandRotateAngle(RandRotate):
    """Rotate a 2D image by a random angle given in degrees, keeping its size.

    :class:`monai.transforms.RandRotate` with a degree API, 2D only, ``keep_size=True``, and zero padding by
    default (MRI background is black). Invertible through MONAI's ``inverse``. The output is float32, like
    ``RandRotate``'s.

    Args:
        degrees: angle range in degrees; a number ``d`` means ``(-|d|, |d|)``, a pair ``(lo, hi)`` is used as is.
        prob: probability of rotating.
        mode: interpolation, ``"bilinear"`` (default) or ``"nearest"``.
        padding_mode: ``"zeros"`` (default), ``"border"`` or ``"reflection"``, for pixels rotated in from outside.
        align_corners: see ``torch.nn.functional.grid_sample``.
        dtype: resampling computation dtype.
        lazy: execute lazily (MONAI lazy resampling).
    """

    def __init__(
        self,
        degrees: float | tuple[float, float] = 15.0,
        prob: float = 0.1,
        mode: str = GridSampleMode.BILINEAR,
        padding_mode: str = GridSamplePadMode.ZEROS,
        align_corners: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
        lazy: bool = False,
    ) -> None:
        deg = tuple(float(d) for d in ensure_tuple(degrees))
        if len(deg) == 1:
            deg = (-abs(deg[0]), abs(deg[0]))
        if len(deg) != 2 or deg[0] > deg[1]:
            raise ValueError(f"degrees must be a number or a (low, high) pair with low <= high, got {degrees}.")
        super().__init__(
            range_x=(float(np.deg2rad(deg[0])), float(np.deg2rad(deg[1]))),
            prob=prob,
            keep_size=True,
            mode=mode,
            padding_mode=padding_mode,
            align_corners=align_corners,
            dtype=dtype,
            lazy=lazy,
        )
        self.degrees = deg

    @property
    def angle(self) -> float:
        """The last drawn angle, in degrees (meaningful when the last call rotated)."""
        return float(np.rad2deg(self.x))

    def __call__(  # type: ignore[override]
        self,
        img: NdarrayOrTensor,
        mode: str | None = None,
        padding_mode: str | None = None,
        align_corners: bool | None = None,
        dtype: DtypeLike | torch.dtype = None,
        randomize: bool = True,
        lazy: bool | None = None,
    ) -> torch.Tensor:
        """
        Args:
            img: channel-first 2D image ``(C, H, W)``.
            mode, padding_mode, align_corners, dtype: override the constructor's values for this call.
            randomize: draw a new angle first (``False``: reuse the last draw).
            lazy: override ``self.lazy`` for this call.

        Returns:
            ``(C, H, W)`` float32 tensor (MetaTensor when tracking meta).

        Raises:
            ValueError: ``img`` is not 2D.
        """
        if get_spatial_ndim(img) != 2:
            raise ValueError(f"RandRotateAngle rotates 2D (C, H, W) images, got shape {tuple(img.shape)}.")
        img = convert_to_tensor(img, track_meta=get_track_meta())
        return super().__call__(img, mode, padding_mode, align_corners, dtype, randomize, lazy)  # type: ignore


def _angles_to_k(angles: Sequence[int]) -> tuple[int, ...]:
    values = tuple(ensure_tuple(angles))
    if not values or any(a not in (0, 90, 180, 270) for a in values):
        raise ValueError(f"angles must be a non-empty subset of (0, 90, 180, 270), got {angles}.")
    return tuple(int(a) // 90 for a in values)


class RandRotate90Choice(RandRotate90):
    """With probability ``prob``, rotate by an angle drawn uniformly from ``angles`` (multiples of 90 degrees).

    :class:`monai.transforms.RandRotate90` draws ``k`` in ``1..max_k``; this draws from any subset of
    ``{0, 90, 180, 270}``, e.g. ``angles=(90, 270)`` for quarter turns only or ``(180,)`` for a half turn.
    Exact (no interpolation) and invertible. 90 and 270 degree turns swap the two spatial sizes.

    Args:
        prob: probability of rotating.
        angles: candidate angles in degrees, from ``{0, 90, 180, 270}``; repeats weight the choice.
        spatial_axes: the two spatial axes defining the rotation plane.
        lazy: execute lazily (MONAI lazy resampling).
    """

    def __init__(
        self,
        prob: float = 0.1,
        angles: Sequence[int] = (90, 180, 270),
        spatial_axes: tuple[int, int] = (0, 1),
        lazy: bool = False,
    ) -> None:
        self._ks = _angles_to_k(angles)
        super().__init__(prob=prob, max_k=3, spatial_axes=spatial_axes, lazy=lazy)
        self.angles = tuple(int(a) for a in ensure_tuple(angles))

    @property
    def angle(self) -> int:
        """The angle applied by the last call, in degrees (0 when it did not rotate)."""
        return 90 * self._rand_k if self._do_transform else 0

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        RandomizableTransform.randomize(self, None)
        if self._do_transform:
            self._rand_k = self._ks[self.R.randint(len(self._ks))]
