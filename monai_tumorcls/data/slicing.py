"""Turn a display-oriented volume (H, W, N) into the 2D slices given to the classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..transforms.intensity.array import foreground_threshold

__all__ = ["SliceStack", "volume_to_slices", "slices_to_volume", "maps_to_volume_grid", "constant_slices",
           "foreground_fraction"]

_PLANE_WORLD_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


@dataclass
class SliceStack:
    """Slices ready for the classifier, in display orientation.

    Attributes:
        images: (N, H, W) float32, original intensities, square pixels (when requested), padded to a square.
        positions_mm: (N,) world coordinate (RAS, mm) of voxel (0, 0, k) along the plane's axis
            (S for axial, A for coronal, R for sagittal); slice index times spacing when the plane is unknown.
        constant: (N,) True where the slice has no signal (all pixels equal, or non-finite).
        foreground: (N,) fraction of pixels above ``min + 0.1 * (p99 - min)`` of the slice.
        pixel_spacing_mm: (row, column) spacing of ``images``.
        source_pixel_spacing_mm: (row, column) spacing before in-plane resampling.
        slice_spacing_mm: distance between slices.
        resampled: True when the slices were resampled to square pixels.
        padded: True when the slices were padded to a square.
        unpadded_shape: (H, W) of the slices before padding (after resampling), so that a map computed on
            ``images`` can be cropped and resampled back onto the volume (:func:`slices_to_volume`).
    """

    images: np.ndarray
    positions_mm: np.ndarray
    constant: np.ndarray
    foreground: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    source_pixel_spacing_mm: tuple[float, float]
    slice_spacing_mm: float
    resampled: bool
    padded: bool
    unpadded_shape: tuple[int, int] = (0, 0)


def constant_slices(volume: np.ndarray) -> np.ndarray:
    """(N,) True for slices ``volume[:, :, k]`` that are constant or contain non-finite values.

    Args:
        volume: (H, W, N).
    """
    flat = volume.reshape(-1, volume.shape[2])
    finite = np.isfinite(flat).all(axis=0)
    with np.errstate(invalid="ignore"):
        ptp = np.ptp(np.where(np.isfinite(flat), flat, 0.0), axis=0)
    return (~finite) | (ptp <= 0)


def foreground_fraction(volume: np.ndarray) -> np.ndarray:
    """(N,) fraction of pixels of each slice above its :func:`~monai_tumorcls.transforms.foreground_threshold`
    (0 for constant slices).

    Args:
        volume: (H, W, N).
    """
    # one contiguous row per slice: the percentile's partition then runs along memory (twice as fast, same values)
    flat = np.ascontiguousarray(np.moveaxis(volume, 2, 0)).reshape(volume.shape[2], -1).astype(np.float64)
    threshold = foreground_threshold(flat, axis=1)
    frac = (flat > threshold[:, None]).mean(axis=1)
    return np.where(threshold > flat.min(axis=1), frac, 0.0)


def _resample_square(images: np.ndarray, row_sp: float, col_sp: float) -> np.ndarray:
    """(N, H, W) slices resampled (bilinear) to square pixels of the finer of the two spacings."""
    target = min(row_sp, col_sp)
    h = max(1, int(round(images.shape[1] * row_sp / target)))
    w = max(1, int(round(images.shape[2] * col_sp / target)))
    t = F.interpolate(torch.from_numpy(images)[:, None], size=(h, w), mode="bilinear", align_corners=False)
    return t[:, 0].numpy()


def _pad_square(images: np.ndarray) -> np.ndarray:
    """(N, H, W) slices padded symmetrically to (N, S, S), S = max(H, W), with each slice's minimum."""
    n, h, w = images.shape
    size = max(h, w)
    top, left = (size - h) // 2, (size - w) // 2
    fill = images.reshape(n, -1).min(axis=1)
    out = np.broadcast_to(fill[:, None, None], (n, size, size)).copy()
    out[:, top : top + h, left : left + w] = images
    return out


def volume_to_slices(
    volume: np.ndarray,
    affine: np.ndarray,
    plane: str,
    square_pixels: bool = True,
    pad_to_square: bool = True,
) -> SliceStack:
    """Cut a display-oriented volume into slices for a 2D model.

    Args:
        volume: (H, W, N) with ``volume[:, :, k]`` a display-oriented slice (see
            :mod:`monai_tumorcls.data.readers.nifti`).
        affine: (4, 4) RAS affine of ``volume``.
        plane: ``axial``/``coronal``/``sagittal`` or ``unknown``.
        square_pixels: resample in-plane (bilinear) to the finer of the two pixel spacings when they differ by
            more than 1 % (e.g. axial slices resliced from thick sagittal ones).
        pad_to_square: pad rows or columns symmetrically with the slice minimum so that H == W (the training
            images are square; a later resize then keeps the aspect ratio).

    Returns:
        a :class:`SliceStack`.
    """
    if volume.ndim != 3 or 0 in volume.shape:
        raise ValueError(f"expected a non-empty (H, W, N) volume, got shape {volume.shape}")
    affine = np.asarray(affine, dtype=float)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    row_sp, col_sp, slice_sp = (float(s) if s > 0 else 1.0 for s in spacing)
    n = volume.shape[2]
    axis = _PLANE_WORLD_AXIS.get(plane)
    if axis is None:
        positions = np.arange(n, dtype=float) * slice_sp
    else:
        positions = (affine @ np.stack([np.zeros(n), np.zeros(n), np.arange(n), np.ones(n)]))[axis]
    constant = constant_slices(volume)
    vol = np.where(np.isfinite(volume), volume, 0.0).astype(np.float32)
    fg = foreground_fraction(vol)
    images = np.ascontiguousarray(np.moveaxis(vol, 2, 0))  # (N, H, W)
    resampled = bool(square_pixels) and abs(row_sp / col_sp - 1.0) > 0.01
    out_sp = (row_sp, col_sp)
    if resampled:
        images = _resample_square(images, row_sp, col_sp)
        out_sp = (row_sp * volume.shape[0] / images.shape[1], col_sp * volume.shape[1] / images.shape[2])
    unpadded_shape = (int(images.shape[1]), int(images.shape[2]))
    padded = bool(pad_to_square) and images.shape[1] != images.shape[2]
    if padded:
        images = _pad_square(images)
    return SliceStack(
        images=images.astype(np.float32, copy=False),
        positions_mm=np.round(positions.astype(float), 4),
        constant=constant,
        foreground=fg,
        pixel_spacing_mm=(float(out_sp[0]), float(out_sp[1])),
        source_pixel_spacing_mm=(row_sp, col_sp),
        slice_spacing_mm=slice_sp,
        resampled=resampled,
        padded=padded,
        unpadded_shape=unpadded_shape,
    )


def slices_to_volume(maps: np.ndarray, stack: SliceStack, in_plane_shape: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`volume_to_slices` for per-pixel maps (e.g. lesion probabilities): (N, S, S) maps on
    ``stack.images`` -> (H, W, N) on the volume's grid. The padding is cropped and square-pixel resampling undone
    (bilinear); values are not rescaled.

    Args:
        maps: (N, S, S) at the size of ``stack.images``.
        stack: the slices the maps were computed on.
        in_plane_shape: (H, W) of the volume the stack was cut from.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape != stack.images.shape:
        raise ValueError(f"maps of shape {maps.shape} do not match the slices {stack.images.shape}")
    return np.ascontiguousarray(np.moveaxis(maps_to_volume_grid(maps, stack, in_plane_shape), 0, 2))


def maps_to_volume_grid(maps: np.ndarray, stack: SliceStack, in_plane_shape: tuple[int, int]) -> np.ndarray:
    """(M, S, S) maps of any M slices of ``stack`` (at the size of ``stack.images``) -> (M, H, W) on the grid of
    the volume the stack was cut from (``in_plane_shape`` = (H, W)): padding cropped, square-pixel resampling
    undone (bilinear)."""
    maps = np.asarray(maps, dtype=np.float32)
    h, w = stack.unpadded_shape if stack.unpadded_shape != (0, 0) else maps.shape[1:]
    top, left = (maps.shape[1] - h) // 2, (maps.shape[2] - w) // 2  # as _pad_square placed them
    maps = np.ascontiguousarray(maps[:, top : top + h, left : left + w])
    if (h, w) != tuple(in_plane_shape):
        t = F.interpolate(torch.from_numpy(maps)[:, None], size=tuple(in_plane_shape), mode="bilinear",
                          align_corners=False)
        maps = t[:, 0].numpy()
    return maps
