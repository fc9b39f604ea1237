"""Level-balanced sampling: tumour and tumour-free slices drawn matched in relative level, so level is no cue.

Why: in a scan, tumours sit mid-brain and the tumour-free slices of the same patients lie mostly at the
top and bottom of the stack, so "where in the head" predicts the label; a position-only prior ranks held-out LGG
slices almost as well as the classifier. Drawing, in every level bin, as many tumour-free as tumour slices takes
that away: within a bin only the image content separates the classes. Bins without tumour slices (top and bottom of
the stacks) get a tumour-free share of their own, so no level goes unseen.

An item's relative level is ``(slice_index + 0.5) / n_slices`` (0 = first slice of the stack, 1 = last). LGG items
carry both keys; volume slices (IXI) carry ``slice_index`` only, and their stack is the item's volume
(``n_slices`` = its highest kept slice index + 1). Items without ``slice_index`` (Kaggle images, no level) are drawn
by their source's share alone, as :func:`~monai_tumorcls.data.multisource.source_balanced_sampler` draws them.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

logger = logging.getLogger(__name__)

__all__ = ["relative_levels", "level_bins", "level_balanced_weights", "level_balanced_sampler"]


def relative_levels(items: Sequence[Mapping]) -> list[float | None]:
    """Relative level in ``[0, 1)`` of each item; ``None`` for an item without ``slice_index``."""
    stack_size: dict[str, int] = defaultdict(int)
    for it in items:  # volume slices without n_slices: the volume's highest kept slice bounds the stack
        if "slice_index" in it and "n_slices" not in it:
            key = str(it.get("volume", it.get("group")))
            stack_size[key] = max(stack_size[key], int(it["slice_index"]) + 1)
    levels: list[float | None] = []
    for it in items:
        if "slice_index" not in it:
            levels.append(None)
            continue
        n = it["n_slices"] if "n_slices" in it else stack_size[str(it.get("volume", it.get("group")))]
        levels.append((int(it["slice_index"]) + 0.5) / int(n))
    return levels


def level_bins(levels: Sequence[float | None], n_bins: int) -> list[int | None]:
    """Bin (``0 .. n_bins - 1``, equal widths of relative level) of each level; ``None`` stays ``None``."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    return [None if v is None else min(int(v * n_bins), n_bins - 1) for v in levels]


def _source_weights(sources: Sequence[str], shares: Mapping[str, float]) -> np.ndarray:
    """Weights summing to 1 over ``sources`` (one entry per item): each source its share, split over its items."""
    counts = Counter(sources)
    total = sum(shares[s] for s in counts)
    return np.array([shares[s] / total / counts[s] for s in sources]) if total > 0 else np.zeros(len(sources))


def _cell_budgets(cells: Mapping[tuple[int, bool], list[int]], n_bins: int, free_only_budget: float) -> dict:
    """Unnormalised draw budget of each drawn ``(bin, tumour)`` cell: a matched bin (both classes) its share of the
    tumour items, half to each class; a tumour-free-only bin ``free_only_budget`` x the mean half of a matched bin."""
    matched = [b for b in range(n_bins) if cells.get((b, True)) and cells.get((b, False))]
    n_tumour = sum(len(cells[(b, True)]) for b in matched)
    budgets = {(b, t): 0.5 * len(cells[(b, True)]) / n_tumour for b in matched for t in (True, False)}
    if free_only_budget > 0:
        free_only = [b for b in range(n_bins) if cells.get((b, False)) and not cells.get((b, True))]
        budgets.update({(b, False): free_only_budget * 0.5 / max(len(matched), 1) for b in free_only})
    return budgets


def level_balanced_weights(
    items: Sequence[Mapping], sources: Sequence[str], shares: Mapping[str, float], n_bins: int = 5,
    free_only_budget: float = 1.0,
) -> torch.Tensor:
    """Sampling weight of each item (summing to 1).

    The sources without level (no ``slice_index``) get their shares, split evenly over their items. The sources
    with level get their shares together, split over level bins in proportion to the bin's tumour items (tumour
    slices keep their natural spread over levels); in each bin half goes to the tumour items, half to the
    tumour-free ones (``label`` 0 = tumour-free, any other = tumour), each half split over the items of the cell
    by their source's share (e.g. LGG and IXI tumour-free slices at 3:1 for shares 0.45 and 0.15).

    A bin with tumour-free items only (the top and bottom of most stacks: no tumour there to match) still gets
    ``free_only_budget`` times the mean tumour-free half of the matched bins, so the model sees those levels too;
    the default 1.0 gives it the draws a matched bin's tumour-free half gets on average. It adds no level cue
    within the matched bins (each stays 1:1); that those levels hold no tumour is what the anatomy says too. A bin
    with tumour items only cannot be matched: its items get weight 0 (logged).

    Args:
        items: datalist items (``label``, and ``slice_index``/``n_slices`` where they have a level).
        sources: the source name of each item.
        shares: source name -> share of the draws; sources missing here or at 0 are never drawn.
        n_bins: level bins.
        free_only_budget: draws of a tumour-free-only bin, as a multiple of the mean tumour-free half of a matched
            bin (0: never drawn).
    """
    if len(items) != len(sources):
        raise ValueError(f"{len(items)} items but {len(sources)} source names")
    bins = level_bins(relative_levels(items), n_bins)
    tumour = [int(it["label"]) != 0 for it in items]
    drawn = [float(shares.get(s, 0.0)) > 0 for s in sources]
    cells: dict[tuple[int, bool], list[int]] = defaultdict(list)
    flat: list[int] = []
    for i, (b, t) in enumerate(zip(bins, tumour)):
        if drawn[i]:
            (flat if b is None else cells[(b, t)]).append(i)
    budgets = _cell_budgets(cells, n_bins, free_only_budget)
    share_of = {s: float(shares.get(s, 0.0)) for s in set(sources)}
    flat_share = sum(share_of[s] for s in {sources[i] for i in flat})
    level_share = sum(share_of[s] for s in {sources[i] for cell in budgets for i in cells[cell]})
    if flat_share + level_share <= 0:
        raise ValueError(f"no source with items and a positive share (shares {dict(shares)})")
    weights = np.zeros(len(items))
    if flat:
        weights[flat] = flat_share * _source_weights([sources[i] for i in flat], share_of)
    scale = level_share / sum(budgets.values()) if budgets else 0.0  # the level sources get their shares together
    for cell, budget in budgets.items():
        idx = cells[cell]
        weights[idx] = scale * budget * _source_weights([sources[i] for i in idx], share_of)
    unmatched = sum(len(v) for cell, v in cells.items() if cell not in budgets)
    if unmatched:
        logger.info("level-balanced sampling: %d items in level bins that cannot be matched are never drawn", unmatched)
    return torch.as_tensor(weights / weights.sum(), dtype=torch.float64)


def level_balanced_sampler(
    datasets: Mapping[str, Dataset], shares: Mapping[str, float], num_samples: int, n_bins: int = 5,
    free_only_budget: float = 1.0,
) -> WeightedRandomSampler:
    """Sampler over ``ConcatDataset(list(datasets.values()))`` drawing by :func:`level_balanced_weights`.

    Args:
        datasets: source name -> dataset whose ``data`` holds its datalist items (MONAI ``Dataset``/``CacheDataset``).
        shares: source name -> share of the draws.
        num_samples: draws per epoch, with replacement, from torch's global generator (seeded by
            ``set_determinism``).
        n_bins: level bins.
        free_only_budget: draws of a tumour-free-only level bin (:func:`level_balanced_weights`).
    """
    items, sources = [], []
    for name, ds in datasets.items():
        items.extend(ds.data)
        sources.extend([name] * len(ds.data))
    weights = level_balanced_weights(items, sources, shares, n_bins, free_only_budget)
    return WeightedRandomSampler(weights, num_samples=int(num_samples), replacement=True)
