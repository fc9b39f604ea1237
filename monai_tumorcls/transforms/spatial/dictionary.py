"""Dictionary-based versions of :mod:`monai_tumorcls.transforms.spatial.array`.

Each draws once per call and applies that same draw to every key. Seeded with the same seed, a dictionary
transform draws exactly what its array version draws, so both give the same result.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch

from monai.config import DtypeLike, KeysCollection
from monai.config.type_definitions import NdarrayOrTensor, SequenceStr
from monai.data.meta_obj import get_track_meta
from monai.transforms.inverse import InvertibleTransform
from monai.transforms.spatial.dictionary import RandRotate90d, RandRotated
from monai.transforms.transform import LazyTransform, MapTransform, RandomizableTransform
from monai.utils import GridSampleMode, GridSamplePadMode, TraceKeys, ensure_tuple
from monai.utils.type_conversion import convert_to_tensor

from .array import RandFlipAxes, RandRotate90Choice, RandRotateAngle, _angles_to_k

__all__ = [
    "RandFlipAxesd",
    "RandFlipAxesD",
    "RandFlipAxesDict",
    "RandRotateAngled",
    "RandRotateAngleD",
    "RandRotateAngleDict",
    "RandRotate90Choiced",
    "RandRotate90ChoiceD",
    "RandRotate90ChoiceDict",
]


class RandFlipAxesd(RandomizableTransform, MapTransform, InvertibleTransform, LazyTransform):
    """Dictionary-based version of :class:`~monai_tumorcls.transforms.spatial.array.RandFlipAxes`:
    the axes to flip are drawn once (from the first present key's image) and flipped in every key.

    Args:
        keys: keys of the channel-first ``(C, H, W)`` images to flip.
        prob: flip probability, one for all axes or one per axis.
        spatial_axis: spatial axes that may be flipped; ``None`` means all of them.
        allow_missing_keys: don't raise if a key is missing.
        lazy: execute lazily (MONAI lazy resampling).
    """

    backend = RandFlipAxes.backend

    def __init__(
        self,
        keys: KeysCollection,
        prob: float | Sequence[float] = 0.1,
        spatial_axis: Sequence[int] | int | None = None,
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        LazyTransform.__init__(self, lazy=lazy)
        self.flipper = RandFlipAxes(prob=prob, spatial_axis=spatial_axis, lazy=lazy)

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, val: bool):
        self.flipper.lazy = val
        self._lazy = val

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandFlipAxesd:
        super().set_random_state(seed, state)
        self.flipper.set_random_state(seed, state)
        return self

    def randomize(self, data: NdarrayOrTensor) -> None:
        self.flipper.randomize(data)
        self._do_transform = self.flipper._do_transform

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor], lazy: bool | None = None) -> dict:
        d = dict(data)
        first_key: Hashable = self.first_key(d)
        if first_key == ():
            return d
        self.randomize(d[first_key])
        lazy_ = self.lazy if lazy is None else lazy
        for key in self.key_iterator(d):
            if self._do_transform:
                d[key] = self.flipper(d[key], randomize=False, lazy=lazy_)
            else:
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
            self.push_transform(d[key], replace=True, lazy=lazy_)
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            xform = self.pop_transform(d[key])
            if xform[TraceKeys.DO_TRANSFORM]:
                d[key].applied_operations.append(xform[TraceKeys.EXTRA_INFO])  # type: ignore[attr-defined]
                d[key] = self.flipper.inverse(d[key])
        return d


class RandRotateAngled(RandRotated):
    """Dictionary-based version of :class:`~monai_tumorcls.transforms.spatial.array.RandRotateAngle`
    (:class:`monai.transforms.RandRotated` with a degree API, 2D only, ``keep_size=True``): one angle per call
    for all keys; ``mode``, ``padding_mode``, ``align_corners`` and ``dtype`` may be given per key.
    Unlike ``RandRotated``, which draws the probability and the angle from two random streams, this makes the
    array version's draws, so both give the same result for the same seed. The inverse is ``RandRotated``'s.

    Args:
        keys: keys of the channel-first 2D ``(C, H, W)`` images to rotate.
        degrees: angle range in degrees; ``d`` means ``(-|d|, |d|)``, a pair ``(lo, hi)`` is used as is.
        prob: probability of rotating.
        mode: ``"bilinear"`` (default) or ``"nearest"``, or one per key.
        padding_mode: ``"zeros"`` (default), ``"border"`` or ``"reflection"``, or one per key.
        align_corners: see ``torch.nn.functional.grid_sample``, or one per key.
        dtype: resampling computation dtype, or one per key.
        allow_missing_keys: don't raise if a key is missing.
        lazy: execute lazily (MONAI lazy resampling).
    """

    def __init__(
        self,
        keys: KeysCollection,
        degrees: float | tuple[float, float] = 15.0,
        prob: float = 0.1,
        mode: SequenceStr = GridSampleMode.BILINEAR,
        padding_mode: SequenceStr = GridSamplePadMode.ZEROS,
        align_corners: Sequence[bool] | bool = False,
        dtype: Sequence[DtypeLike | torch.dtype] | DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        super().__init__(
            keys,
            prob=prob,
            keep_size=True,
            mode=mode,
            padding_mode=padding_mode,
            align_corners=align_corners,
            dtype=dtype,
            allow_missing_keys=allow_missing_keys,
            lazy=lazy,
        )
        # the inner transform makes the one draw per call (probability, then angle), exactly as the array version
        self.rand_rotate = RandRotateAngle(degrees=degrees, prob=prob, lazy=lazy)

    def randomize(self, data: object | None = None) -> None:
        self.rand_rotate.randomize()
        self._do_transform = self.rand_rotate._do_transform

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor], lazy: bool | None = None) -> dict:
        d = dict(data)
        self.randomize()
        lazy_ = self.lazy if lazy is None else lazy
        for key, mode, padding_mode, align_corners, dtype in self.key_iterator(
            d, self.mode, self.padding_mode, self.align_corners, self.dtype
        ):
            if self._do_transform:
                d[key] = self.rand_rotate(
                    d[key],
                    mode=mode,
                    padding_mode=padding_mode,
                    align_corners=align_corners,
                    dtype=dtype,
                    randomize=False,
                    lazy=lazy_,
                )
            else:
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta(), dtype=torch.float32)
            self.push_transform(d[key], replace=True, lazy=lazy_)
        return d

    @property
    def degrees(self) -> tuple[float, float]:
        return self.rand_rotate.degrees  # type: ignore[return-value]

    @property
    def angle(self) -> float:
        """The last drawn angle, in degrees (meaningful when the last call rotated)."""
        return self.rand_rotate.angle  # type: ignore[attr-defined]


class RandRotate90Choiced(RandRotate90d):
    """Dictionary-based version of :class:`~monai_tumorcls.transforms.spatial.array.RandRotate90Choice`:
    with probability ``prob``, rotate every key by the same angle drawn from ``angles``. Invertible.

    Args:
        keys: keys of the channel-first ``(C, H, W)`` images to rotate.
        prob: probability of rotating.
        angles: candidate angles in degrees, from ``{0, 90, 180, 270}``.
        spatial_axes: the two spatial axes defining the rotation plane.
        allow_missing_keys: don't raise if a key is missing.
        lazy: execute lazily (MONAI lazy resampling).
    """

    backend = RandRotate90Choice.backend

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        angles: Sequence[int] = (90, 180, 270),
        spatial_axes: tuple[int, int] = (0, 1),
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        self._ks = _angles_to_k(angles)
        super().__init__(
            keys, prob=prob, max_k=3, spatial_axes=spatial_axes, allow_missing_keys=allow_missing_keys, lazy=lazy
        )
        self.angles = tuple(int(a) for a in ensure_tuple(angles))

    @property
    def angle(self) -> int:
        """The angle applied by the last call, in degrees (0 when it did not rotate)."""
        return 90 * self._rand_k if self._do_transform else 0

    def randomize(self, data: object | None = None) -> None:
        # same draws, in the same order, as RandRotate90Choice.randomize
        RandomizableTransform.randomize(self, None)
        if self._do_transform:
            self._rand_k = self._ks[self.R.randint(len(self._ks))]


RandFlipAxesD = RandFlipAxesDict = RandFlipAxesd
RandRotateAngleD = RandRotateAngleDict = RandRotateAngled
RandRotate90ChoiceD = RandRotate90ChoiceDict = RandRotate90Choiced
