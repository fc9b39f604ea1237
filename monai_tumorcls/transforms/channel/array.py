"""Channel-count adaptation of channel-first 2D images for ImageNet (3-channel) backbones."""

from __future__ import annotations

import numpy as np

from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.transform import Transform
from monai.utils.enums import TransformBackends

__all__ = ["EnsureThreeChannel", "SelectChannel"]

# channel count -> which input channels make up the three output channels
_CHANNEL_SOURCES = {1: [0, 0, 0], 2: [0, 0, 0], 3: None, 4: [0, 1, 2]}


class EnsureThreeChannel(Transform):
    """Give a channel-first image exactly three channels, as ImageNet-pretrained networks expect.

    ====================  =====================================
    input channels        output
    ====================  =====================================
    1 (grey)              grey repeated three times
    2 (grey + alpha)      grey repeated three times, alpha dropped
    3 (RGB)               unchanged (the input object is returned)
    4 (RGBA)              RGB, alpha dropped
    other                 ``ValueError``
    ====================  =====================================

    Alpha is dropped, not composited: the colour under transparent pixels is kept as stored.
    The input type is kept (NumPy stays NumPy, a MetaTensor keeps its metadata).

    Example::

        LoadImaged("image", reader=RasterImageReader()), EnsureChannelFirstd("image"), EnsureThreeChanneld("image")
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            img: channel-first image ``(C, H, W)`` (or ``(C, W, H)``, any spatial rank), C in 1-4.

        Returns:
            ``(3, H, W)``, same type and dtype as ``img``.

        Raises:
            ValueError: ``img`` has no channel axis or an unsupported channel count.
        """
        if img.ndim < 2:
            raise ValueError(f"expected a channel-first image (C, H, W), got shape {tuple(img.shape)}.")
        channels = int(img.shape[0])
        if channels not in _CHANNEL_SOURCES:
            raise ValueError(
                f"cannot make 3 channels from {channels} (shape {tuple(img.shape)}): expected 1 (grey), "
                "2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels first; is the image channel-last?"
            )
        sources = _CHANNEL_SOURCES[channels]
        if sources is None:
            return img
        if sources == [0, 0, 0]:
            return _repeat_first_channel(img)
        return img[np.asarray(sources)] if isinstance(img, np.ndarray) else img[sources]  # type: ignore[index]


def _repeat_first_channel(img: NdarrayOrTensor) -> NdarrayOrTensor:
    """``img[[0, 0, 0]]`` (a copy, metadata kept), by ``repeat``: indexing with a list is a gather, about three
    times slower on a slice, and this runs once per slice of every study."""
    grey = img if img.shape[0] == 1 else img[:1]
    if isinstance(img, np.ndarray):
        return np.repeat(grey, 3, axis=0)
    return grey.repeat(3, *([1] * (img.ndim - 1)))  # type: ignore[union-attr]


class SelectChannel(Transform):
    """Keep one channel of a channel-first image, as a one-channel image ``(1, H, W)``.

    Used for multi-sequence images that store one MR sequence per channel (e.g. the LGG dataset's TIFF slices:
    pre-contrast T1, FLAIR, post-contrast T1), so that each sequence is classified as a greyscale image.

    Args:
        channel: index of the channel to keep.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, channel: int = 0) -> None:
        self.channel = int(channel)

    def __call__(self, img: NdarrayOrTensor, channel: int | None = None) -> NdarrayOrTensor:
        """
        Args:
            img: channel-first image ``(C, H, W)``.
            channel: overrides the channel given at construction.

        Raises:
            ValueError: the channel does not exist.
        """
        c = self.channel if channel is None else int(channel)
        if img.ndim < 2 or not 0 <= c < img.shape[0]:
            raise ValueError(f"cannot select channel {c} of an image of shape {tuple(img.shape)} (channel first)")
        return img[c : c + 1]
