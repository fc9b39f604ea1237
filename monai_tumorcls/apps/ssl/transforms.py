"""Two independently augmented views of an image, the input of contrastive pretraining."""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable
from monai.utils import ensure_tuple

__all__ = ["TwoViews", "TwoViewsd", "TwoViewsD", "TwoViewsDict"]


def _copy(x):
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, np.ndarray):
        return x.copy()
    return copy.deepcopy(x)


class _WrapsRandomTransform(Randomizable):
    """A transform whose randomness is that of the ``transform`` it wraps: seeding it seeds that one."""

    transform: Callable

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        if isinstance(self.transform, Randomizable):
            self.transform.set_random_state(seed=seed, state=state)
        return self

    def randomize(self, data=None) -> None:  # the wrapped transform draws its own parameters
        pass


class TwoViews(_WrapsRandomTransform):
    """Apply a random ``transform`` twice, independently, to copies of one image.

    Args:
        transform: a random array transform (e.g. a :class:`monai.transforms.Compose` of ``Rand*`` transforms);
            each call draws new parameters.

    Returns:
        ``(view1, view2)``, each what ``transform`` returns for the image (same shape when ``transform`` ends
        with a fixed-size resize).
    """

    def __init__(self, transform: Callable) -> None:
        self.transform = transform

    def __call__(self, img):
        return self.transform(_copy(img)), self.transform(_copy(img))


class TwoViewsd(_WrapsRandomTransform, MapTransform):
    """Dictionary version of :class:`TwoViews`: two independently augmented views of the ``keys``.

    For each view, the dictionary transform ``transform`` receives ``{key: copy of data[key]}`` for the present
    ``keys`` (so several keys, e.g. an image and its mask, share one draw per view); its outputs are stored
    under ``names``. Because it is :class:`~monai.transforms.Randomizable`, a
    :class:`~monai.data.CacheDataset` caches the deterministic transforms before it and draws new views every
    epoch.

    Args:
        keys: keys of the items to augment.
        transform: random dictionary transform acting on ``keys``.
        names: the new keys, two per key in ``keys`` order (``[k1_view1, k1_view2, k2_view1, ...]``); default
            ``"<key>_view1"`` and ``"<key>_view2"``.
        delete_keys: remove the original ``keys`` from the output (saves collating them).
        allow_missing_keys: don't raise if a key is missing.

    Example::

        aug = Compose([RandSpatialCropd("image", (112, 112), random_size=True), Resized("image", (224, 224)),
                       RandFlipd("image", prob=0.5, spatial_axis=1)])
        TwoViewsd("image", aug)({"image": img})  # {"image_view1": (3, 224, 224), "image_view2": (3, 224, 224)}
    """

    def __init__(
        self,
        keys: KeysCollection,
        transform: Callable[[Mapping], Mapping],
        names: Sequence[str] | None = None,
        delete_keys: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.transform = transform
        names = ensure_tuple(names) if names is not None else tuple(f"{k}_view{i}" for k in self.keys for i in (1, 2))
        if len(names) != 2 * len(self.keys):
            raise ValueError(f"expected {2 * len(self.keys)} names (two views per key), got {len(names)}: {names}.")
        if set(names) & set(self.keys):
            raise ValueError(f"view names {names} must differ from the keys {self.keys}.")
        self.names: tuple[str, ...] = tuple(names)
        self.delete_keys = delete_keys

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        present = list(self.key_iterator(d))
        for view in range(2):
            out = self.transform({k: _copy(d[k]) for k in present})
            for j, key in enumerate(self.keys):
                if key in present:
                    d[self.names[2 * j + view]] = out[key]
        if self.delete_keys:
            for key in present:
                del d[key]
        return d


TwoViewsD = TwoViewsDict = TwoViewsd
