"""Calibration metrics, temperature scaling and the report's ROC / reliability PNGs, on synthetic predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from monai_tumorcls.metrics import brier_score, calibration_summary, classification_metrics, expected_calibration_error
from monai_tumorcls.metrics import fit_temperature, reliability_bins, roc_curve, temperature_scale
from monai_tumorcls.metrics import write_classification_report


def _sampled(scale: float, n: int = 2000, classes: int = 4, seed: int = 0):
    """Labels drawn from softmax(z); the model reports softmax(scale * z): calibrated at scale 1, overconfident
    above."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, classes)) * 1.5
    p_true = torch.softmax(torch.tensor(z), dim=1).numpy()
    labels = np.array([rng.choice(classes, p=p) for p in p_true])
    return scale * z, labels


def test_fit_temperature_recovers_the_overconfidence_and_keeps_the_argmax():
    logits, labels = _sampled(scale=3.0)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.15)
    probs = torch.softmax(torch.tensor(logits), dim=1).numpy()
    scaled = temperature_scale(probs, t)
    np.testing.assert_allclose(scaled, torch.softmax(torch.tensor(logits / t), dim=1).numpy(), atol=1e-9)
    assert (scaled.argmax(1) == probs.argmax(1)).all()
    assert expected_calibration_error(scaled, labels) < 0.5 * expected_calibration_error(probs, labels)
    assert brier_score(scaled, labels) < brier_score(probs, labels)


def test_calibrated_predictions_have_small_ece():
    logits, labels = _sampled(scale=1.0, n=4000)
    probs = torch.softmax(torch.tensor(logits), dim=1).numpy()
    assert expected_calibration_error(probs, labels) < 0.03
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.1)


def test_brier_and_ece_known_values():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = np.array([0, 1, 1])
    assert brier_score(probs, labels) == pytest.approx(2 / 3)  # one confidently wrong item of three: 2 / 3
    assert expected_calibration_error(probs, labels) == pytest.approx(1 / 3)  # confidence 1, accuracy 2/3
    bins = reliability_bins(probs, labels, num_bins=10)
    assert bins["count"][-1] == 3 and sum(bins["count"]) == 3
    assert bins["accuracy"][-1] == pytest.approx(2 / 3) and bins["accuracy"][0] is None  # empty bins: None


def test_roc_curve_points():
    fpr, tpr = roc_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.8, 0.1]))
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])  # the tie at 0.8 moves both rates in one step


@pytest.mark.parametrize("classes", [2, 4])
def test_report_writes_calibration_roc_and_reliability(tmp_path, classes):
    logits, labels = _sampled(scale=3.0, n=300, classes=classes)
    probs = torch.softmax(torch.tensor(logits), dim=1).numpy()
    names = [f"c{i}" for i in range(classes)]
    report = classification_metrics(labels, probs, names, names[1:])
    report["calibration"] = calibration_summary(probs, labels, temperature=3.0)
    paths = write_classification_report({"testing": report}, tmp_path, scores={"testing": (labels, probs)})
    for name in ("roc_curves.png", "reliability.png"):
        assert paths[name] == tmp_path / name
        with Image.open(tmp_path / name) as img:
            assert img.format == "PNG" and min(img.size) >= 300
    saved = json.loads((tmp_path / "metrics.json").read_text())["reports"]["testing"]["calibration"]
    assert saved["ece_scaled"] < saved["ece"] and saved["temperature"] == 3.0
    md = (tmp_path / "metrics.md").read_text()
    assert "expected calibration error" in md and "ECE after temperature scaling (T = 3.0000)" in md
