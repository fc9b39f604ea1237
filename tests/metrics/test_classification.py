from __future__ import annotations

import numpy as np
import pytest

from monai_tumorcls.metrics import binary_metrics, classification_metrics, confusion_matrix, roc_auc_binary


def test_confusion_matrix_layout():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)


def test_roc_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(bool)
    s = np.round(rng.random(200) + 0.3 * y, 1)  # ties on purpose
    pos, neg = s[y], s[~y]
    expected = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert roc_auc_binary(y, s) == pytest.approx(expected)
    assert roc_auc_binary(np.ones(3, bool), np.arange(3)) is None


def test_binary_metrics_by_hand():
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    p = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], bool)
    m = binary_metrics(t, p)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 1, 1, 5)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == m["sensitivity"] == pytest.approx(0.75)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(0.75)


def test_classification_metrics_four_class_with_tumour_summary():
    names = ["glioma", "meningioma", "notumor", "pituitary"]
    y = np.array([0, 1, 2, 3, 2, 0])
    prob = np.eye(4)[[0, 1, 2, 3, 0, 0]] * 0.7 + 0.075
    r = classification_metrics(y, prob, names, positive_classes=["glioma", "meningioma", "pituitary"])
    assert r["accuracy"] == pytest.approx(5 / 6)
    assert r["per_class"]["notumor"]["support"] == 2
    assert r["per_class"]["notumor"]["recall"] == pytest.approx(0.5)
    assert r["per_class"]["glioma"]["precision"] == pytest.approx(2 / 3)
    assert r["binary"]["fp"] == 1 and r["binary"]["tp"] == 4
    assert r["binary"]["specificity"] == pytest.approx(0.5)
    assert r["confusion_matrix"][2] == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(y, prob[:, :3], names)
