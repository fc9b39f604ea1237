"""Overlap of a lesion map with a manual mask, at several thresholds, pooled per scan.

A per-slice Dice averaged over tumour slices weighs the small lesion tip at the top of
a tumour as much as its middle, and ignores what the map calls lesion on the scan's tumour-free slices. The *scan
Dice* pools a scan's slices first: ``2 |P ∩ T| / (|P| + |T|)`` over all its pixels, the per-volume Dice segmentation
papers report on this data (Buda et al. 2019). Counting pixels per slice and threshold once lets one pass over the
slices give the Dice at every threshold, for choosing one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["dice_from_counts", "overlap_counts", "scan_dice"]


def overlap_counts(probabilities: torch.Tensor, masks: torch.Tensor, thresholds: Sequence[float]) -> np.ndarray:
    """Pixel counts of lesion maps against masks at each threshold.

    Args:
        probabilities: ``(B, 1, H, W)`` lesion probabilities.
        masks: ``(B, 1, H, W)`` manual masks (non-zero = lesion), the same size.
        thresholds: probabilities from which a pixel counts as lesion.

    Returns:
        ``(B, len(thresholds), 3)``: per item and threshold the pixels called lesion that are lesion, the pixels
        called lesion, and the lesion pixels.
    """
    if probabilities.shape != masks.shape:
        raise ValueError(f"lesion maps {tuple(probabilities.shape)} and masks {tuple(masks.shape)} differ in shape")
    truth = (masks > 0).flatten(1)
    called = torch.stack([probabilities.flatten(1) >= t for t in thresholds], dim=1)  # (B, T, pixels)
    both = (called & truth[:, None]).sum(-1)
    true = truth.sum(-1, keepdim=True).expand_as(both)
    return torch.stack([both, called.sum(-1), true], dim=-1).numpy().astype(np.int64)


def dice_from_counts(counts: np.ndarray) -> np.ndarray:
    """The Dice ``2 |P ∩ T| / (|P| + |T|)`` of ``(..., 3)`` counts from :func:`overlap_counts` (``(...)``); 1 where
    neither the map nor the mask has a lesion pixel."""
    both, called, true = np.moveaxis(np.asarray(counts), -1, 0)
    denominator = called + true
    return np.where(denominator > 0, 2 * both / np.maximum(denominator, 1), 1.0)


def scan_dice(counts: np.ndarray, scans: Sequence[str]) -> dict[str, np.ndarray]:
    """Per scan, the Dice of its pooled slices at each threshold.

    Args:
        counts: ``(N, T, 3)`` from :func:`overlap_counts`, one row per slice.
        scans: the scan of each slice (e.g. patient and sequence).

    Returns:
        ``{scan: (T,) Dice}``; 1 where neither the map nor the mask has a lesion pixel in the scan.
    """
    scans = np.asarray(scans)
    if len(scans) != len(counts):
        raise ValueError(f"{len(counts)} rows of counts, {len(scans)} scan names")
    out = {}
    for scan in dict.fromkeys(scans.tolist()):
        out[str(scan)] = dice_from_counts(counts[scans == scan].sum(0))
    return out
