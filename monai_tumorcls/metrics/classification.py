"""Classification metrics (numpy; ROC-AUC by MONAI): confusion matrix, per-class report, sensitivity/specificity,
ROC-AUC and the position-matched ROC-AUC.

The multi-class functions take integer labels ``y_true`` of shape (N,) and class probabilities ``y_prob`` of shape
(N, C) (rows summing to 1; predictions are the row-wise argmax). The binary ones take the truth first, then the
score (``is_positive``, ``score``), and return ``None`` where a value is undefined (a class absent): the JSON reports
hold ``null`` there, never NaN.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = [
    "confusion_matrix",
    "roc_auc_binary",
    "position_matched_auc",
    "per_class_report",
    "classification_metrics",
    "binary_metrics",
]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts; row = true class, column = predicted class. (MONAI's ``ConfusionMatrixMetric`` gives per-class
    one-vs-rest ``[tp, fp, tn, fn]``, not this class-by-class table, which the reports write as CSV and PNG.)"""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= num_classes or y_pred.min() < 0 or y_pred.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def roc_auc_binary(is_positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by :func:`monai.metrics.compute_roc_auc` (ties count one half); ``None`` when a
    class is absent (MONAI would warn and return NaN)."""
    from monai.metrics import compute_roc_auc

    is_positive = np.asarray(is_positive, dtype=bool).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if is_positive.all() or not is_positive.any():
        return None
    return float(compute_roc_auc(torch.as_tensor(score), torch.as_tensor(is_positive, dtype=torch.float64)))


def position_matched_auc(
    is_positive: np.ndarray, score: np.ndarray, position: np.ndarray, n_bins: int = 5
) -> float | None:
    """ROC-AUC over the (positive, negative) pairs whose slices lie at the same level of their stacks: what is left
    of the ranking once the slice level is held fixed (a score that only knows the level scores about 0.5 here).

    The pairs are those within each of ``n_bins`` equal bins of ``position``; the AUC of each bin is weighted by its
    number of pairs. ``None`` when no bin holds both kinds of slice.

    Args:
        is_positive: (N,) bool/0-1 truth (e.g. tumour slice).
        score: (N,) higher = more likely positive.
        position: (N,) slice level in [0, 1], e.g. closeness to the middle of the stack
            (:func:`~monai_tumorcls.apps.validation.position_prior`).
        n_bins: number of position bins.
    """
    is_positive = np.asarray(is_positive, dtype=bool).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    bins = np.minimum((np.asarray(position) * n_bins).astype(int), n_bins - 1)
    total, weight = 0.0, 0
    for b in np.unique(bins):
        in_bin = bins == b
        pairs = int(is_positive[in_bin].sum()) * int((~is_positive[in_bin]).sum())
        if pairs:  # both kinds of slice in the bin: its AUC is defined
            total += roc_auc_binary(is_positive[in_bin], score[in_bin]) * pairs
            weight += pairs
    return total / weight if weight else None


def _safe_div(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def per_class_report(cm: np.ndarray, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per-class precision, recall (= sensitivity), specificity, F1 and support from a confusion matrix.

    The quantities of :func:`monai.metrics.compute_confusion_matrix_metric` (``ConfusionMatrixMetric``), except that
    a zero denominator (a class never predicted, or absent) gives 0, not NaN, as scikit-learn's
    ``zero_division=0``: the published pipelines' numbers are computed that way and the JSON reports hold no NaN."""
    total = cm.sum()
    report = {}
    for i, name in enumerate(class_names):
        tp = cm[i, i]
        fn = cm[i].sum() - tp
        fp = cm[:, i].sum() - tp
        tn = total - tp - fn - fp
        precision = _safe_div(tp, tp + fp)
        recall = _safe_div(tp, tp + fn)
        report[name] = {
            "precision": precision,
            "recall": recall,
            "sensitivity": recall,
            "specificity": _safe_div(tn, tn + fp),
            "f1": _safe_div(2 * precision * recall, precision + recall),
            "support": int(cm[i].sum()),
        }
    return report


def binary_metrics(is_positive: np.ndarray, pred_positive: np.ndarray, score: np.ndarray | None = None) -> dict:
    """ACC, precision, recall, F1, sensitivity, specificity (and ROC-AUC if ``score`` is given) for one positive class."""
    t = np.asarray(is_positive, dtype=bool)
    p = np.asarray(pred_positive, dtype=bool)
    tp, tn = int((t & p).sum()), int((~t & ~p).sum())
    fp, fn = int((~t & p).sum()), int((t & ~p).sum())
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    out = {
        "accuracy": _safe_div(tp + tn, t.size),
        "precision": precision,
        "recall": recall,
        "f1": _safe_div(2 * precision * recall, precision + recall),
        "sensitivity": recall,
        "specificity": _safe_div(tn, tn + fp),
        "tp": tp, "tn": tn, "fp": fp, "fn": fn,
    }
    if score is not None:
        out["roc_auc"] = roc_auc_binary(t, score)
    return out


def classification_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    class_names: Sequence[str],
    positive_classes: Sequence[str] | None = None,
) -> dict:
    """Full report: overall accuracy, macro precision/recall/F1/sensitivity/specificity, ROC-AUC, per-class
    report with support, the confusion matrix and, when ``positive_classes`` is given, the binary
    "positive vs rest" metrics (e.g. tumour vs notumor for a 4-class model; scored by the summed probability).

    Args:
        y_true: (N,) integer labels.
        y_prob: (N, C) class probabilities.
        class_names: C names, indexed by label.
        positive_classes: names whose union is the positive class of the binary summary.
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    num_classes = len(class_names)
    if y_prob.ndim != 2 or y_prob.shape != (y_true.size, num_classes):
        raise ValueError(f"y_prob must have shape (N={y_true.size}, C={num_classes}), got {y_prob.shape}")
    y_pred = y_prob.argmax(axis=1) if y_true.size else np.zeros(0, dtype=np.int64)
    cm = confusion_matrix(y_true, y_pred, num_classes)
    per_class = per_class_report(cm, class_names)
    aucs = {name: roc_auc_binary(y_true == i, y_prob[:, i]) for i, name in enumerate(class_names)}
    valid_aucs = [a for a in aucs.values() if a is not None]
    macro = {
        k: float(np.mean([per_class[n][k] for n in class_names]))
        for k in ("precision", "recall", "f1", "sensitivity", "specificity")
    }
    out = {
        "num_samples": int(y_true.size),
        "accuracy": _safe_div(np.trace(cm), cm.sum()),
        "macro": macro,
        "roc_auc_per_class": aucs,
        "roc_auc_macro_ovr": float(np.mean(valid_aucs)) if valid_aucs else None,
        "per_class": per_class,
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
    }
    if positive_classes:
        pos_idx = [class_names.index(c) for c in positive_classes]
        is_pos = np.isin(y_true, pos_idx)
        score = y_prob[:, pos_idx].sum(axis=1)
        out["binary"] = {"positive_classes": list(positive_classes), **binary_metrics(is_pos, score > 0.5, score)}
        if num_classes > 2:
            # decision by argmax class membership as well (can differ from summed-probability > 0.5)
            out["binary"]["accuracy_argmax"] = _safe_div(int((np.isin(y_pred, pos_idx) == is_pos).sum()), y_true.size)
    return out
