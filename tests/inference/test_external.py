"""Held-out-patient metrics: position prior, slice and within-scan AUCs, series threshold (synthetic scores)."""

from __future__ import annotations

import numpy as np
import pytest

from monai_tumorcls.inference import choose_threshold, position_prior, series_scores, slice_report


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
    scores = series_scores(["a", "a", "a", "a", "b"], probs, ["notumor", "tumor"], "tumor", top_k=3)
    assert scores["a"] == pytest.approx(0.7) and scores["b"] == pytest.approx(0.01)


def test_threshold_separates_validation_series_and_prefers_specificity():
    assert choose_threshold([0.9, 0.95, 0.8], [0.1, 0.3]) == pytest.approx(0.55)
    t = choose_threshold([0.9, 0.6], [0.7, 0.2])  # no perfect split: J ties between 0.4 and 0.8, the higher wins
    assert t == pytest.approx(0.8)
    assert choose_threshold([], [0.3]) == 0.5
