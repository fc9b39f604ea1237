"""Held-out-patient metrics: position prior, slice and within-scan AUCs, series threshold (synthetic scores)."""

from __future__ import annotations

import numpy as np
import pytest

from monai_tumorcls.apps.validation import choose_threshold, position_prior, series_scores, slice_report
from monai_tumorcls.metrics import position_matched_auc, roc_auc_binary


def test_position_prior_peaks_mid_stack():
    assert position_prior([0, 2, 4], [5, 5, 5]).tolist() == [0.0, 1.0, 0.0]
    assert position_prior([0], [1]).tolist() == [1.0]


def _rows(score_of):
    """Two patients, 10 slices each; tumour on slices 3-5 (patient a) and 6-8 (patient b)."""
    rows = []
    for g, tumour in (("a", range(3, 6)), ("b", range(6, 9))):
        for k in range(10):
            label = int(k in tumour)
            rows.append({"group": g, "label": label, "score": score_of(g, k, label),
                         "position": float(position_prior([k], [10])[0])})
    return rows


def test_a_lesion_detector_beats_the_position_prior():
    report = slice_report(_rows(lambda g, k, label: 0.9 if label else 0.1))
    assert report["slice_auc"] == 1.0 and report["within_scan_auc_median"] == 1.0
    assert report["sensitivity"] == 1.0 and report["specificity"] == 1.0
    assert report["position_auc"] < 0.9 and report["within_scan_position_auc_median"] < 1.0
    assert report["n_slices"] == 20 and report["n_tumour_slices"] == 6 and report["n_patients"] == 2
    assert set(report["within_scan_auc"]) == {"a", "b"}


def test_a_scanner_detector_scores_chance_within_scans():
    # patient a's scanner makes everything look "tumour": pooled AUC > 0.5, within-scan AUC exactly 0.5
    report = slice_report(_rows(lambda g, k, label: 0.8 if g == "a" else 0.2))
    assert report["within_scan_auc_median"] == 0.5
    assert report["slice_auc"] == pytest.approx(0.5)  # both patients have 3 tumour slices: pooled ranks cancel


def test_series_scores_are_top_k_means():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.99, 0.01]])
    scores = series_scores(["a", "a", "a", "a", "b"], probs, ["notumor", "tumor"], ["tumor"], top_k=3)
    assert scores["a"] == pytest.approx(0.7) and scores["b"] == pytest.approx(0.01)


def test_threshold_separates_validation_series_and_prefers_specificity():
    assert choose_threshold([0.9, 0.95, 0.8], [0.1, 0.3]) == pytest.approx(0.55)
    t = choose_threshold([0.9, 0.6], [0.7, 0.2])  # no perfect split: J ties between 0.4 and 0.8, the higher wins
    assert t == pytest.approx(0.8)
    assert choose_threshold([], [0.3]) == 0.5


def _write_lgg(root, patient, tumour_slices, n=8, lesion_only=False):
    """Slices of one patient: tumour slices bright (only inside the mask with ``lesion_only``), the others dark."""
    import tifffile

    folder = root / patient
    folder.mkdir(parents=True)
    for k in range(1, n + 1):
        mask = np.zeros((16, 16), np.uint8)
        if k in tumour_slices:
            mask[4:14, 4:14] = 255
        image = np.full((16, 16, 3), 200 if k in tumour_slices and not lesion_only else 50, np.uint8)
        image[mask > 0] = 200
        tifffile.imwrite(folder / f"{patient}_{k}.tif", image)
        tifffile.imwrite(folder / f"{patient}_{k}_mask.tif", mask)


def _lgg_people(root, tumours, lesion_only=False):
    from monai.data import PILReader
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, ScaleIntensityRanged

    from monai_tumorcls.apps.validation import HeldOutPeople
    from monai_tumorcls.data.datasets import lgg_slice_items, scan_lgg_folder
    from monai_tumorcls.transforms import SelectChanneld

    for i, tumour in enumerate(tumours):
        _write_lgg(root / "lgg", f"TCGA_CS_{4940 + i}_20000101", tumour, lesion_only=lesion_only)
    items = lgg_slice_items(scan_lgg_folder(root / "lgg"), sequences=["flair"], min_area=10, margin=1)
    lgg = {"validation": [it for it in items if it["group"] < "TCGA_CS_4943"],
           "testing": [it for it in items if it["group"] >= "TCGA_CS_4943"]}
    tf = Compose([LoadImaged("image", reader=PILReader(reverse_indexing=False), image_only=True),
                  EnsureChannelFirstd("image"), SelectChanneld("image"),
                  ScaleIntensityRanged("image", 0, 255, 0, 1)])
    return HeldOutPeople(lgg, {"validation": [], "testing": []}, tf, tf)


def test_external_validation_end_to_end_on_synthetic_patients(tmp_path):
    import torch

    from monai_tumorcls.apps.validation import external_validation

    people = _lgg_people(tmp_path, [{3, 4}, {5, 6}, set(), {2, 3}, {6, 7}])  # validation: 2 tumour, 1 tumour-free

    class Bright(torch.nn.Module):  # "tumour" logit follows the image's brightness: it sees the lesion
        def forward(self, x):
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([torch.zeros_like(m), 20 * (m - 0.5)], dim=1)

    result = external_validation(Bright(), people, ["notumor", "tumor"], tmp_path / "out")
    flair = result["sequences"]["flair"]
    assert flair["slice_auc"] == 1.0 and flair["within_scan_auc_median"] == 1.0 and flair["sensitivity"] == 1.0
    assert flair["n_patients"] == 2 and flair["n_tumour_slices"] == 4
    assert flair["patients_called_tumour"]["with_tumour"] == "2/2" and "dice_mean" not in flair
    assert list(flair["patients_called_tumour_by_rule"]) == ["top_k_mean"]  # no lesion head: one rule
    assert result["series_rule"]["chosen_on"] == "2 tumour / 1 tumour-free validation series"
    assert result["series_rule"]["method"] == "top_k_mean"
    assert result["healthy_volumes"]["n_subjects"] == 0 and result["lgg_test_patients"] == [
        "TCGA_CS_4943_20000101", "TCGA_CS_4944_20000101"]
    assert "| flair | 12 (4) | 2 | 1.000 |" in (tmp_path / "out" / "external.md").read_text()


def test_a_lesion_network_is_scored_on_its_lesion_map_in_the_same_pass(tmp_path):
    import torch

    from monai_tumorcls.apps.validation import external_validation

    people = _lgg_people(tmp_path, [{3, 4}, {5, 6}, set(), {2, 3}, {6, 7}], lesion_only=True)
    passes = []

    class LesionNet(torch.nn.Module):  # the lesion map is the bright region; the class follows its area
        def forward(self, x):
            raise AssertionError("a lesion network is scored through forward_lesion only (one pass)")

        def forward_lesion(self, x):
            passes.append(len(x))
            area = (x[:, :1] > 0.5).float().mean(dim=(1, 2, 3))
            return torch.stack([torch.zeros_like(area), 100 * area - 1], dim=1), 20 * (x[:, :1] - 0.5)

    result = external_validation(LesionNet(), people, ["notumor", "tumor"], tmp_path / "out")
    flair = result["sequences"]["flair"]
    assert flair["dice_mean"] == pytest.approx(1.0) and flair["hd95_median_px"] == pytest.approx(0.0)
    assert flair["pointing_game_lesion_map"] == 1.0 and flair["segmentation_n"] == 4
    assert set(flair["patients_called_tumour_by_rule"]) == {"top_k_mean", "lesion_volume"}
    assert flair["patients_called_tumour_by_rule"]["lesion_volume"]["with_tumour"] == "2/2"
    assert set(result["series_rule"]["rules"]) == {"top_k_mean", "lesion_volume"}
    assert sum(passes) == 20 + 12  # validation (6 + 6 + 8) and held-out slices, each once
    assert "| flair | 4 | 1.000 (1.000) | 0.0 | 0.000 | 1.000 |" in (tmp_path / "out" / "external.md").read_text()


def test_position_matched_auc_removes_the_level_confound():
    # tumours mid-stack; a "level detector" scores by position: perfect pooled AUC, nothing within a level
    position = np.array([1.0, 0.9, 0.95, 0.1, 0.05, 0.92, 0.08, 0.97])
    labels = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    assert position_matched_auc(labels, position, position) < 0.7 < roc_auc_binary(labels, position)
    lesion = labels * 0.9 + 0.05  # a lesion detector ranks within every level
    assert position_matched_auc(labels, lesion, position) == 1.0
    assert position_matched_auc(np.ones(8, int), lesion, position) is None


def test_series_scores_sum_the_positive_classes():
    probs = np.array([[0.1, 0.5, 0.4], [0.6, 0.2, 0.2], [0.3, 0.3, 0.4]])  # notumor, glioma, pituitary
    scores = series_scores(["a", "a", "a"], probs, ["notumor", "glioma", "pituitary"], ["glioma", "pituitary"], top_k=2)
    assert scores["a"] == pytest.approx((0.9 + 0.7) / 2)
