"""Level-balanced sampling: as many tumour-free as tumour draws in each level bin; Kaggle by its share."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from monai.data import Dataset

from monai_tumorcls.data import level_balanced_sampler, level_balanced_weights, level_bins, relative_levels

SHARES = {"kaggle": 0.4, "lgg": 0.45, "ixi": 0.15}


def _lgg_patient(name: str, n_slices: int, tumour: range) -> list[dict]:
    return [{"group": name, "slice_index": k, "n_slices": n_slices, "label": int(k in tumour)} for k in range(n_slices)]


def _sources() -> dict[str, list[dict]]:
    lgg = _lgg_patient("p1", 20, range(8, 14)) + _lgg_patient("p2", 30, range(5, 20)) + _lgg_patient("p3", 24, range(15, 22))
    ixi = [{"volume": f"v{v}", "slice_index": k, "label": 0} for v in range(2) for k in range(3, 40)]
    kaggle = [{"label": 1}] * 7 + [{"label": 0}] * 5
    return {"kaggle": kaggle, "lgg": lgg, "ixi": ixi}


def _flat(sources):
    items = [it for v in sources.values() for it in v]
    return items, [name for name, v in sources.items() for _ in v]


def test_relative_levels():
    items = [{"slice_index": 0, "n_slices": 4}, {"slice_index": 3, "n_slices": 4}, {"label": 1},
             {"volume": "a", "slice_index": 9}, {"volume": "a", "slice_index": 4}]
    assert relative_levels(items) == [0.125, 0.875, None, 0.95, 0.45]  # volume "a": a stack of 10
    assert level_bins([0.0, 0.199, 0.2, 0.999, None], 5) == [0, 0, 1, 4, None]
    with pytest.raises(ValueError):
        level_bins([0.5], 0)


def test_tumour_and_tumour_free_weights_match_in_every_bin():
    items, sources = _flat(_sources())
    weights = level_balanced_weights(items, sources, SHARES, n_bins=5)
    assert float(weights.sum()) == pytest.approx(1.0)
    bins = level_bins(relative_levels(items), 5)
    per_cell = Counter()
    for w, b, it in zip(weights.tolist(), bins, items):
        if b is not None:
            per_cell[(b, it["label"])] += w
    used = {b for (b, label), w in per_cell.items() if label == 1 and w > 0}
    assert len(used) >= 3
    for b in range(5):
        assert per_cell[(b, 1)] == pytest.approx(per_cell[(b, 0)] if b in used else 0.0)
    kaggle = [w for w, s in zip(weights.tolist(), sources) if s == "kaggle"]
    assert sum(kaggle) == pytest.approx(0.4) and max(kaggle) == pytest.approx(min(kaggle))


def test_a_plain_draw_would_confound_level_and_the_balanced_one_does_not():
    items, sources = _flat(_sources())
    leveled = [i for i, b in enumerate(level_bins(relative_levels(items), 5)) if b is not None]
    bins = level_bins(relative_levels(items), 5)
    natural = Counter((bins[i], items[i]["label"]) for i in leveled)
    assert any(natural[(b, 0)] > 2 * natural[(b, 1)] for b in range(5))  # the fixture's bias exists

    datasets = {name: Dataset(v) for name, v in _sources().items()}
    torch.manual_seed(0)
    draws = list(level_balanced_sampler(datasets, SHARES, num_samples=40000, n_bins=5))
    counts = Counter((bins[i], items[i]["label"]) for i in draws if bins[i] is not None)
    for b in range(5):
        tumour, free = counts[(b, 1)], counts[(b, 0)]
        assert abs(tumour - free) <= 0.05 * max(tumour + free, 1) + 30, (b, tumour, free)
    assert sum(sources[i] == "kaggle" for i in draws) / len(draws) == pytest.approx(0.4, abs=0.02)


def test_bins_without_both_classes_and_sources_without_share_are_never_drawn():
    items, sources = _flat(_sources())
    weights = level_balanced_weights(items, sources, {"kaggle": 0.5, "lgg": 0.5}, n_bins=5, free_only_budget=0)
    assert all(w == 0 for w, s in zip(weights.tolist(), sources) if s == "ixi")
    bins = level_bins(relative_levels(items), 5)
    tumour_bins = {b for b, it in zip(bins, items) if b is not None and it["label"] == 1}
    assert all(w == 0 for w, b in zip(weights.tolist(), bins) if b is not None and b not in tumour_bins)
    with pytest.raises(ValueError):
        level_balanced_weights(items, sources, {"kaggle": 0.0}, n_bins=5)


def _mid_tumour_sources() -> dict[str, list[dict]]:
    """Tumours in bins 1-3 only: bins 0 and 4 hold tumour-free slices alone (the top and bottom of the stacks)."""
    lgg = _lgg_patient("p1", 20, range(5, 15)) + _lgg_patient("p2", 30, range(7, 23)) + _lgg_patient("p3", 10, range(0))
    return {"kaggle": [{"label": 1}] * 3 + [{"label": 0}] * 3, "lgg": lgg}


def _cell_weights(items, weights, n_bins=5) -> Counter:
    per_cell = Counter()
    for w, b, it in zip(weights.tolist(), level_bins(relative_levels(items), n_bins), items):
        if b is not None:
            per_cell[(b, it["label"])] += w
    return per_cell


def test_tumour_free_only_bins_get_the_mean_tumour_free_half_of_a_matched_bin():
    items, sources = _flat(_mid_tumour_sources())
    shares = {"kaggle": 0.4, "lgg": 0.6}
    per_cell = _cell_weights(items, level_balanced_weights(items, sources, shares, n_bins=5))
    matched = [b for b in range(5) if per_cell[(b, 1)] > 0]
    assert matched == [1, 2, 3]
    for b in matched:  # the matched bins stay 1:1
        assert per_cell[(b, 1)] == pytest.approx(per_cell[(b, 0)])
    mean_half = sum(per_cell[(b, 0)] for b in matched) / len(matched)
    for b in (0, 4):
        assert per_cell[(b, 1)] == 0 and per_cell[(b, 0)] == pytest.approx(mean_half)
    assert sum(per_cell.values()) == pytest.approx(0.6)  # the level source keeps its share, Kaggle its own
    half = _cell_weights(items, level_balanced_weights(items, sources, shares, n_bins=5, free_only_budget=0.5))
    assert half[(0, 0)] == pytest.approx(0.5 * sum(half[(b, 0)] for b in matched) / len(matched))
    before = _cell_weights(items, level_balanced_weights(items, sources, shares, n_bins=5, free_only_budget=0))
    assert before[(0, 0)] == before[(4, 0)] == 0  # the old behaviour: those levels were never seen


def test_the_sampler_draws_tumour_free_only_levels():
    sources = _mid_tumour_sources()
    items, _ = _flat(sources)
    bins = level_bins(relative_levels(items), 5)
    torch.manual_seed(0)
    draws = list(level_balanced_sampler({k: Dataset(v) for k, v in sources.items()}, {"kaggle": 0.4, "lgg": 0.6}, 20000))
    top_or_bottom = sum(bins[i] in (0, 4) for i in draws) / len(draws)
    assert top_or_bottom == pytest.approx(2 * 0.6 / 8, abs=0.02)  # 2 of the 8 level cells' budgets (3 bins x 2 + 2)
