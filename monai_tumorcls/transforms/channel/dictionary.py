"""Dictionary-based wrappers of :mod:`monai_tumorcls.transforms.channel.array`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.transform import MapTransform

from .array import EnsureThreeChannel, SelectChannel

__all__ = [
    "EnsureThreeChanneld",
    "EnsureThreeChannelD",
    "EnsureThreeChannelDict",
    "SelectChanneld",
    "SelectChannelD",
    "SelectChannelDict",
]


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


class SelectChanneld(MapTransform):
    """Dictionary-based wrapper of :class:`~monai_tumorcls.transforms.channel.array.SelectChannel`.

    Args:
        keys: keys of the channel-first images.
        channel: channel to keep when the item has no ``channel_key``.
        channel_key: item key holding the channel to keep (e.g. ``"channel"`` of the LGG datalist items).
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = SelectChannel.backend

    def __init__(
        self, keys: KeysCollection, channel: int = 0, channel_key: str | None = "channel", allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.selector = SelectChannel(channel)
        self.channel_key = channel_key

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        channel = d.get(self.channel_key) if self.channel_key else None
        for key in self.key_iterator(d):
            d[key] = self.selector(d[key], channel)
        return d


SelectChannelD = SelectChannelDict = SelectChanneld
