"""Images a classifier should not be trusted on: blank (one value) or tiny. Tiny ones are still classified, but
their output rows carry a warning, so that a confident-looking prediction on them is not taken at face value; a
blank one holds no anatomy at all, and image inference refuses it (no decision), as the clinical path excludes
blank slices."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from monai.config import KeysCollection
from monai.transforms import MapTransform

__all__ = ["MIN_SIDE_PX", "FlagUntrustedImaged", "image_warnings"]

MIN_SIDE_PX = 16  # below this a brain slice holds no usable anatomy, whatever it is resized to
BLANK = "blank image (one value)"


def image_warnings(spatial_shape: Sequence[int], constant: bool = False, min_side: int = MIN_SIDE_PX) -> list[str]:
    """The warnings of an image of ``spatial_shape`` (its size as read, before any resizing) whose pixels are all
    one value when ``constant``."""
    warnings = []
    if constant:
        warnings.append(BLANK)
    shape = [int(s) for s in spatial_shape]
    if shape and min(shape) < min_side:
        warnings.append(f"tiny image ({'x'.join(map(str, shape))} px, a side below {min_side})")
    return warnings


class FlagUntrustedImaged(MapTransform):
    """Writes the :func:`image_warnings` of each channel-first image of ``keys``, joined by ``"; "`` (``""`` when
    none), to ``warnings_key``. Place it right after loading: resizing hides a tiny image, and per-channel
    intensity normalisation makes a blank grey image look like three values.

    Args:
        keys: keys of the images (channel first, as read).
        warnings_key: key receiving the warnings.
        reject_blank: raise ``ValueError`` on a blank image instead of flagging it, so that a fail-safe dataset
            records it as an error (no decision) rather than a prediction on nothing.
        min_side: images with a side below this many pixels are flagged tiny.
        allow_missing_keys: don't raise exception if key is missing.
    """

    def __init__(self, keys: KeysCollection, warnings_key: str = "warnings", reject_blank: bool = False,
                 min_side: int = MIN_SIDE_PX, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.warnings_key, self.reject_blank, self.min_side = warnings_key, reject_blank, min_side

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            image = d[key]
            warnings = image_warnings(image.shape[1:], bool(image.min() == image.max()), self.min_side)
            if self.reject_blank and BLANK in warnings:
                raise ValueError(f"{BLANK}: no decision")
            d[self.warnings_key] = "; ".join(warnings)
        return d


FlagUntrustedImageD = FlagUntrustedImageDict = FlagUntrustedImaged
