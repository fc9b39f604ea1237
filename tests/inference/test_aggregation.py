"""Slice -> series aggregation."""

from __future__ import annotations

import numpy as np
import pytest

from monai_tumorcls.apps.clinical.aggregation import aggregate_slices, default_positive_classes, tumour_probability

CLASSES = ["glioma", "meningioma", "notumor", "pituitary"]


def _probs(tumour):
    """(N, 4) with the tumour mass on glioma."""
    t = np.asarray(tumour, dtype=float)
    return np.stack([t, np.zeros_like(t), 1 - t, np.zeros_like(t)], axis=1)


def test_default_positive_classes():
    assert default_positive_classes(CLASSES) == ("glioma", "meningioma", "pituitary")
    assert default_positive_classes(["notumor", "tumor"]) == ("tumor",)
    with pytest.raises(ValueError):
        default_positive_classes(["a", "b"])


def test_tumour_probability_sums_tumour_classes():
    p = np.array([[0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_allclose(tumour_probability(p, CLASSES, ("glioma", "meningioma", "pituitary")), [0.7])
    with pytest.raises(ValueError):
        tumour_probability(p, CLASSES, ("astrocytoma",))


def test_max_and_contributing_slice():
    d = aggregate_slices(_probs([0.1, 0.9, 0.3, 0.9]), CLASSES, method="max")
    assert d.tumour_probability == pytest.approx(0.9) and d.is_tumour and d.label == "tumour"
    assert d.contributing_slices == [1]  # tie -> lower index
    assert d.predicted_class == "glioma"
    assert d.class_probabilities["glioma"] == pytest.approx(0.9)


def test_top_k_mean_and_mean():
    p = _probs([0.1, 0.8, 0.6, 0.2, 0.7])
    d = aggregate_slices(p, CLASSES, method="top_k_mean", top_k=3)
    assert d.contributing_slices == [1, 4, 2] and d.tumour_probability == pytest.approx(0.7)
    d = aggregate_slices(p, CLASSES, method="topk", top_k=10)  # alias, k larger than N
    assert len(d.contributing_slices) == 5 and d.tumour_probability == pytest.approx(0.48)
    d = aggregate_slices(p, CLASSES, method="mean", threshold=0.5)
    assert d.tumour_probability == pytest.approx(0.48) and d.is_tumour is False
    assert d.predicted_class == "notumor" and d.label == "no_tumour"


def test_invalid_slices_are_ignored():
    p = _probs([0.99, 0.2, 0.3])
    d = aggregate_slices(p, CLASSES, valid=np.array([False, True, True]))
    assert d.contributing_slices == [2] and d.n_valid_slices == 2 and not d.is_tumour
    p[0] = np.nan  # an excluded slice may have no output
    d = aggregate_slices(p, CLASSES, valid=np.array([False, True, True]))
    assert d.contributing_slices == [2]
    d = aggregate_slices(p, CLASSES, valid=np.zeros(3, bool))
    assert d.is_tumour is None and d.label == "undetermined" and d.contributing_slices == []


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_valid_slice_without_a_finite_output_means_no_decision(bad):
    """A broken model (NaN weights, an overflow) decides nothing: not from the other slices, never "no tumour"."""
    p = _probs([0.1, 0.2, 0.3])
    p[1, 0] = bad
    for valid in (np.ones(3, bool), np.array([True, True, False])):
        d = aggregate_slices(p, CLASSES, valid=valid, method="mean")
        assert d.is_tumour is None and d.label == "undetermined" and d.predicted_class is None
        assert d.contributing_slices == [] and d.class_probabilities is None
    d = aggregate_slices(p, CLASSES, valid=np.array([True, False, True]), method="mean")  # excluded: ignored
    assert d.contributing_slices == [2, 0] and d.label == "no_tumour"


def test_binary_model_and_bad_arguments():
    p = np.array([[0.3, 0.7], [0.8, 0.2]])
    d = aggregate_slices(p, ["notumor", "tumor"], threshold=0.75)
    assert d.tumour_probability == pytest.approx(0.7) and d.is_tumour is False and d.predicted_class == "notumor"
    with pytest.raises(ValueError):
        aggregate_slices(p, ["notumor", "tumor"], method="median")
    with pytest.raises(ValueError):
        aggregate_slices(p, ["notumor", "tumor"], top_k=0)
    assert set(d.to_dict()) >= {"label", "tumour_probability", "contributing_slices", "class_probabilities"}
