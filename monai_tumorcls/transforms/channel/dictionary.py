"""Dictionary-based wrappers of :mod:`monai_tumorcls.transforms.channel.array`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.transform import MapTransform

from .array import EnsureThreeChannel

__all__ = ["EnsureThreeChanneld", "EnsureThreeChannelD", "EnsureThreeChannelDict"]


class EnsureThreeChanneld(MapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.channel.array.EnsureThreeChannel`.

    Args:
        keys: keys of the channel-first ``(C, H, W)`` images to convert to three channels.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = EnsureThreeChannel.backend

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = EnsureThreeChannel()

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d


EnsureThreeChannelD = EnsureThreeChannelDict = EnsureThreeChanneld
