"""Calibration of class probabilities: expected calibration error, Brier score, reliability bins and temperature
scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017)."""

from __future__ import annotations

import numpy as np
import torch
from monai.metrics import calibration_binning

__all__ = [
    "brier_score",
    "calibration_summary",
    "expected_calibration_error",
    "fit_temperature",
    "reliability_bins",
    "temperature_scale",
]

#: range of a fitted temperature
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def reliability_bins(probs: np.ndarray, labels: np.ndarray, num_bins: int = 15) -> dict[str, list]:
    """Top-label reliability: per confidence bin, the mean confidence, the accuracy and the count (``None`` when
    the bin is empty).

    Args:
        probs: ``(N, C)`` class probabilities.
        labels: ``(N,)`` integer labels.
        num_bins: equal-width bins over [0, 1].
    """
    probs, labels = np.asarray(probs, float), np.asarray(labels, int)
    confidence = torch.as_tensor(probs.max(axis=1), dtype=torch.float32).view(1, 1, -1)
    correct = torch.as_tensor(probs.argmax(axis=1) == labels, dtype=torch.float32).view(1, 1, -1)
    mean_p, mean_gt, counts = calibration_binning(confidence, correct, num_bins=num_bins)  # MONAI's hard binning
    def values(t: torch.Tensor) -> list:
        return [None if np.isnan(v) else v for v in t.flatten().tolist()]  # JSON has no NaN

    return {"confidence": values(mean_p), "accuracy": values(mean_gt), "count": [int(c) for c in counts.flatten()]}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, num_bins: int = 15) -> float:
    """Top-label ECE: the count-weighted mean gap between confidence and accuracy over ``num_bins`` bins."""
    bins = reliability_bins(probs, labels, num_bins)
    count = np.asarray(bins["count"], float)
    gap = np.nan_to_num(np.abs(np.asarray(bins["confidence"], float) - np.asarray(bins["accuracy"], float)))
    return float((count * gap).sum() / max(count.sum(), 1.0))


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean over items of the squared distance between the probabilities and the one-hot
    label (0 = perfect, 2 = confidently wrong)."""
    probs = np.asarray(probs, float)
    onehot = np.eye(probs.shape[1])[np.asarray(labels, int)]
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def temperature_scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / T)`` computed from ``softmax(logits)``: log-probabilities are the logits up to a per-item
    constant, which softmax ignores (probabilities that underflowed to 0 are floored at 1e-45)."""
    log_p = np.log(np.clip(np.asarray(probs, np.float64), 1e-45, None)) / float(temperature)
    log_p -= log_p.max(axis=1, keepdims=True)
    exp = np.exp(log_p)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, max_iter: int = 100) -> float:
    """The temperature ``T`` minimising the cross-entropy of ``softmax(logits / T)`` on held-out items (LBFGS over
    ``log T``, so that ``T`` stays positive; clipped to [``MIN_TEMPERATURE``, ``MAX_TEMPERATURE``]). Accuracy is
    unchanged: dividing by ``T`` keeps the argmax."""
    logits = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    # a validation split the model separates perfectly drives T towards 0 (ever sharper): keep it in a sane range
    return float(log_t.exp().clamp(MIN_TEMPERATURE, MAX_TEMPERATURE).item())


def calibration_summary(probs: np.ndarray, labels: np.ndarray, temperature: float = 1.0, num_bins: int = 15) -> dict:
    """ECE and Brier score of ``probs`` as given and after temperature scaling (:func:`temperature_scale`), with
    the reliability bins of both (for the diagram)."""
    scaled = temperature_scale(probs, temperature)
    return {
        "temperature": float(temperature),
        "num_bins": num_bins,
        "ece": expected_calibration_error(probs, labels, num_bins),
        "brier": brier_score(probs, labels),
        "ece_scaled": expected_calibration_error(scaled, labels, num_bins),
        "brier_scaled": brier_score(scaled, labels),
        "reliability": reliability_bins(probs, labels, num_bins),
        "reliability_scaled": reliability_bins(scaled, labels, num_bins),
    }
