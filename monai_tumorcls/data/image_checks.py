"""Images a classifier should not be trusted on: blank (one value) or tiny. They are still classified, but their
output rows carry a warning, so that a confident-looking prediction on them is not taken at face value."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MIN_SIDE_PX", "image_warnings"]

MIN_SIDE_PX = 16  # below this a brain slice holds no usable anatomy, whatever it is resized to


def image_warnings(spatial_shape: Sequence[int], constant: bool = False, min_side: int = MIN_SIDE_PX) -> list[str]:
    """The warnings of an image of ``spatial_shape`` (its size as read, before any resizing) whose pixels are all
    one value when ``constant``."""
    warnings = []
    if constant:
        warnings.append("blank image (one value)")
    shape = [int(s) for s in spatial_shape]
    if shape and min(shape) < min_side:
        warnings.append(f"tiny image ({'x'.join(map(str, shape))} px, a side below {min_side})")
    return warnings
