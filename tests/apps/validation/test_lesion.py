"""The lesion map on held-out slices (Dice, HD95, pointing game, from the same pass as the probabilities) and the
two series rules (top-k mean vs nominal lesion volume) chosen on validation people."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_tumorcls.apps.validation import NominalGeometry, choose_series_rule, lesion_volume_scores
from monai_tumorcls.apps.validation.lesion import SliceOutputs, _segmentation, predict_outputs, segmentation_summary
from monai_tumorcls.metrics.lesion import overlap_counts


def _square(top: int, left: int, size: int = 4, shape=(16, 16)) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    mask[top : top + size, left : left + size] = 1
    return mask


def _counts(lesion: torch.Tensor, truth: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return overlap_counts(lesion, torch.as_tensor(truth[:, None]), (0.5, threshold))


def test_segmentation_wires_dice_hd95_and_the_peak():
    truth = np.stack([_square(4, 4), _square(4, 4), _square(4, 4)])
    lesion = torch.as_tensor(np.stack([_square(4, 4), _square(4, 6), np.zeros((16, 16))]) * 0.9)[:, None]
    lesion[1, 0, 5, 7] = 0.95  # the shifted map's peak lies on the lesion
    exact, shifted, empty = _segmentation(lesion, truth, _counts(lesion, truth))
    assert exact == {"dice": pytest.approx(1.0), "threshold_dice": pytest.approx(1.0), "hd95": pytest.approx(0.0),
                     "hit": True}
    assert shifted["dice"] == pytest.approx(0.5) and shifted["hd95"] == pytest.approx(2.0) and shifted["hit"]
    assert empty["dice"] == 0.0 and np.isnan(empty["hd95"])  # no lesion called: Dice 0, no distance
    outputs = SliceOutputs(np.zeros((10, 2)), segmentation={0: exact, 1: shifted, 7: empty},
                           overlap={i: np.array([[16, 16, 16]] * 2) for i in (0, 1, 7, 9)})
    summary = segmentation_summary(outputs, [0, 1, 7, 9], ["a"] * 4)  # 9: a tumour-free slice of the scan
    assert summary["dice_mean"] == pytest.approx(0.5) and summary["hd95_median_px"] == pytest.approx(1.0)
    assert summary["lesion_map_empty"] == pytest.approx(1 / 3) and summary["segmentation_n"] == 3
    assert summary["scan_dice_mean"] == pytest.approx(1.0) and summary["scan_n"] == 1


def test_the_model_threshold_gives_the_threshold_dice_and_the_default_the_rest():
    truth = np.stack([_square(4, 4)])
    lesion = torch.as_tensor(_square(4, 4) * 0.3)[None, None]  # a faint map: nothing at 0.5, the lesion at 0.25
    (row,) = _segmentation(lesion, truth, _counts(lesion, truth, 0.25))
    assert row["dice"] == 0.0 and np.isnan(row["hd95"]) and row["threshold_dice"] == pytest.approx(1.0)


def test_the_scan_dice_counts_what_the_map_calls_lesion_on_tumour_free_slices():
    # scan "a": a tumour slice found exactly and a tumour-free slice where the map calls 16 pixels; scan "b": exact
    overlap = {0: np.array([[16, 16, 16]] * 2), 1: np.array([[0, 16, 0]] * 2), 2: np.array([[9, 9, 9]] * 2)}
    outputs = SliceOutputs(np.zeros((3, 2)), segmentation={i: {"dice": 1.0, "threshold_dice": 1.0, "hd95": 0.0,
                                                               "hit": True} for i in (0, 2)}, overlap=overlap)
    summary = segmentation_summary(outputs, [0, 1, 2], ["a", "a", "b"])
    assert summary["dice_mean"] == 1.0  # per tumour slice the map is perfect
    assert summary["scan_dice_mean"] == pytest.approx((2 * 16 / 48 + 1.0) / 2) and summary["scan_n"] == 2


def test_lesion_volume_in_nominal_ml_and_subsets():
    outputs = SliceOutputs(np.zeros((4, 2)), np.array([0.1, 0.2, 0.0, 0.05]), {1: {"dice": 1.0}},
                           {1: np.ones((2, 3)), 2: np.zeros((2, 3))})
    geometry = NominalGeometry(field_of_view_mm=100.0, slice_spacing_mm=2.0)  # a slice is 20 ml in all
    assert lesion_volume_scores(["a", "a", "b", "b"], outputs.lesion_area, geometry) == pytest.approx(
        {"a": 6.0, "b": 1.0})
    part = outputs.subset([3, 1])
    assert part.lesion_area.tolist() == [0.05, 0.2] and part.segmentation == {1: {"dice": 1.0}}
    assert list(part.overlap) == [1] and part.overlap[1].sum() == 6


def test_the_rule_that_separates_validation_people_is_chosen():
    positive = {"top_k_mean": [0.9, 0.4, 0.8], "lesion_volume": [12.0, 9.0, 20.0]}
    negative = {"top_k_mean": [0.5, 0.95], "lesion_volume": [0.0, 1.5]}
    choice = choose_series_rule(positive, negative)
    assert choice["chosen"] == "lesion_volume" and choice["rules"]["lesion_volume"]["validation_j"] == 1.0
    assert 1.5 < choice["rules"]["lesion_volume"]["threshold"] < 9.0
    assert choice["why"].startswith("lesion_volume: validation J 1.000, series AUC 1.000; top_k_mean: J")
    tie = choose_series_rule({"top_k_mean": [0.9], "lesion_volume": [5.0]}, {"top_k_mean": [0.1], "lesion_volume": [0.0]})
    assert tie["chosen"] == "top_k_mean"  # equally good: bundle inference's rule
    alone = choose_series_rule({"top_k_mean": [0.9]}, {"top_k_mean": [0.1]})
    assert list(alone["rules"]) == ["top_k_mean"] and alone["chosen"] == "top_k_mean"


class _BrightIsLesion(torch.nn.Module):
    """``forward_lesion``: lesion probability 0.3 where the image's first channel is 1, almost 0 elsewhere."""

    def forward_lesion(self, x: torch.Tensor):
        return torch.zeros(len(x), 2), x[:, :1] * (np.log(0.3 / 0.7) + 12.0) - 12.0


def test_one_pass_scores_every_slice_with_a_mask_tumour_free_batches_included(tmp_path):
    import tifffile

    lesion = _square(4, 4) * 255
    items = []
    for k, tumour in enumerate((False, False, True, False)):  # the first batch of two holds no tumour slice
        mask = tmp_path / f"{k}_mask.tif"
        tifffile.imwrite(mask, (lesion if tumour else lesion * 0).astype(np.uint8))
        items.append({"image": torch.as_tensor(lesion / 255 if tumour else lesion * 0).expand(3, 16, 16).float(),
                      "mask": str(mask), "label": int(tumour)})
    outputs = predict_outputs(_BrightIsLesion(), items, lambda it: {"image": it["image"]}, batch_size=2,
                              lesion_threshold=0.25)
    assert sorted(outputs.overlap) == [0, 1, 2, 3] and list(outputs.segmentation) == [2]
    row = outputs.segmentation[2]
    assert row["dice"] == 0.0 and row["threshold_dice"] == pytest.approx(1.0)  # 0.3: lesion at 0.25, not at 0.5
    assert outputs.lesion_area.tolist() == pytest.approx([0, 0, 16 / 256, 0])  # areas at the model's threshold
