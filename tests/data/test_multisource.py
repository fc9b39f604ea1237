"""Source-balanced sampling and the IXI subject splits of the multi-source datalists (synthetic)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from monai_tumorcls.data import ixi_volumes, source_balanced_sampler
from monai_tumorcls.data.datasets.multisource import _ixi_splits


def test_sampler_draws_each_source_with_its_share():
    datasets = {"kaggle": list(range(1000)), "lgg": list(range(50)), "ixi": list(range(10)), "empty": []}
    torch.manual_seed(0)
    sampler = source_balanced_sampler(datasets, {"kaggle": 0.4, "lgg": 0.45, "ixi": 0.15, "empty": 1.0}, 20000)
    assert len(sampler) == 20000
    bounds = {"kaggle": (0, 1000), "lgg": (1000, 1050), "ixi": (1050, 1060)}
    drawn = Counter(next(k for k, (a, b) in bounds.items() if a <= i < b) for i in sampler)
    assert abs(drawn["kaggle"] / 20000 - 0.4) < 0.02
    assert abs(drawn["lgg"] / 20000 - 0.45) < 0.02
    assert abs(drawn["ixi"] / 20000 - 0.15) < 0.02


def test_sampler_without_a_source_renormalises_and_refuses_nothing():
    sampler = source_balanced_sampler({"kaggle": [0] * 10, "lgg": []}, {"kaggle": 0.4, "lgg": 0.6}, 100)
    assert set(iter(sampler)) <= set(range(10))
    with pytest.raises(ValueError, match="no source with data"):
        source_balanced_sampler({"kaggle": [], "lgg": [1]}, {"kaggle": 1.0}, 10)


def test_ixi_volumes_and_subject_splits(tmp_path):
    for i in range(20):
        (tmp_path / f"IXI{100 + i}-HH-{1000 + i}_T1.nii.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a volume")
    volumes = ixi_volumes(tmp_path)
    assert len(volumes) == 20 and volumes[0].group == "IXI100-HH-1000" and volumes[0].label is None
    tested = set()
    for fold in range(5):
        splits = _ixi_splits(volumes, fold, 5, 0.15, seed=0)
        groups = {k: {v.group for v in vs} for k, vs in splits.items()}
        assert len(groups["testing"]) == 4 and len(groups["validation"]) == 2 and len(groups["training"]) == 14
        assert not (groups["training"] & groups["validation"]) | (groups["training"] & groups["testing"])
        assert not groups["validation"] & groups["testing"]
        tested |= groups["testing"]
    assert len(tested) == 20
    with pytest.raises(FileNotFoundError, match="no IXI"):
        ixi_volumes(tmp_path / "nothing")
