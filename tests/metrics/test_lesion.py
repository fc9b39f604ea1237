"""Pixel counts of lesion maps against masks at several thresholds, and the per-scan Dice pooled from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_tumorcls.metrics.lesion import overlap_counts, scan_dice


def _map(values: dict[tuple[int, int], float], shape=(4, 4)) -> torch.Tensor:
    out = torch.zeros(1, 1, *shape)
    for (r, c), v in values.items():
        out[0, 0, r, c] = v
    return out


def test_counts_per_threshold():
    probabilities = _map({(0, 0): 0.9, (0, 1): 0.4, (3, 3): 0.6})
    mask = _map({(0, 0): 1, (0, 1): 1})
    counts = overlap_counts(probabilities, mask, (0.3, 0.5, 0.95))
    assert counts.shape == (1, 3, 3)
    # (lesion pixels called, pixels called, lesion pixels) at 0.3, 0.5, 0.95
    assert counts[0].tolist() == [[2, 3, 2], [1, 2, 2], [0, 0, 2]]


def test_counts_refuse_maps_and_masks_of_different_sizes():
    with pytest.raises(ValueError, match="differ in shape"):
        overlap_counts(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 8, 8), (0.5,))


def test_scan_dice_pools_the_slices_of_a_scan():
    # scan a: slice 1 exact (4 px), slice 2 tumour-free with 4 px called; scan b: nothing anywhere
    counts = np.array([[[4, 4, 4]], [[0, 4, 0]], [[0, 0, 0]]])
    by_scan = scan_dice(counts, ["a", "a", "b"])
    assert by_scan["a"].tolist() == pytest.approx([2 * 4 / (8 + 4)])
    assert by_scan["b"].tolist() == [1.0]  # nothing to find, nothing called
    with pytest.raises(ValueError, match="3 rows of counts, 2 scan names"):
        scan_dice(counts, ["a", "b"])
