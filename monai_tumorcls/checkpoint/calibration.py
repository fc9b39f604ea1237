"""Temperature scaling of a trained checkpoint, only where it helps.

After training, the softmax temperature ``T`` is fitted on the validation split and stored in the checkpoint's
metadata, which inference applies (``softmax(logits / T)``), under two conditions:

* the split holds at least ``min_samples`` items (:data:`MIN_CALIBRATION_SAMPLES` by default): one number fitted on
  a few dozen images follows those images more than the model (a temperature fitted on 72 validation images made
  the Kaggle Testing probabilities worse calibrated, ``docs/results.md``);
* it lowers the validation cross-entropy (NLL) measured on items it was not fitted on: each half of the split is
  scored with the temperature fitted on the other half. (On the items it is fitted on, a fitted temperature never
  raises the NLL, so that comparison could not refuse one.)

Otherwise the stored temperature is 1 (the plain softmax). Either way the metadata's ``calibration`` record says what
was done and why: ``fitted``, ``kept``, ``reason``, the item counts, ``nll_before``/``nll_after`` (the held-out NLL
without and with scaling), and ECE and Brier score before and after the fitted temperature. A new digest binds the
record to the weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from monai_tumorcls.metrics.calibration import brier_score, expected_calibration_error, fit_temperature

from .io import network_to_decide_on, update_metadata

__all__ = ["MIN_CALIBRATION_SAMPLES", "calibrate_checkpoint", "calibration_record"]

logger = logging.getLogger(__name__)

#: fewest validation items a temperature is fitted on (the ``calibration_min_samples`` bundle option).
MIN_CALIBRATION_SAMPLES = 200


def _nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    return float(torch.nn.functional.cross_entropy(logits.double() / temperature, labels))


def _held_out_nll(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean NLL of every item under the temperature fitted on the other half of the items (two halves of a seeded
    permutation, so that a split sorted by class is not cut by class)."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    halves = (order[0::2], order[1::2])
    total = 0.0
    for scored, fitted_on in (halves, halves[::-1]):
        t = fit_temperature(logits[fitted_on], labels[fitted_on])
        total += _nll(logits[scored], labels[scored], t) * len(scored)
    return total / len(labels)


def _scores(logits: torch.Tensor, labels: torch.Tensor, temperature: float, when: str) -> dict:
    probs, y = torch.softmax(logits.double() / temperature, dim=1).numpy(), labels.numpy()
    return {f"ece_{when}": expected_calibration_error(probs, y), f"brier_{when}": brier_score(probs, y)}


def calibration_record(logits: torch.Tensor, labels: torch.Tensor, min_samples: int = MIN_CALIBRATION_SAMPLES) -> dict:
    """The temperature to store (``"temperature"``: 1.0 unless one was fitted and kept) and the record of the
    decision, from the validation ``logits`` (N x classes) and ``labels`` (N); see the module's docstring."""
    n = len(labels)
    record = {"split": "validation", "num_samples": n, "min_samples": int(min_samples), "fitted": False,
              "kept": False, "nll_before": _nll(logits, labels), **_scores(logits, labels, 1.0, "before")}
    if n < min_samples:
        record["reason"] = f"{n} validation items, fewer than the {min_samples} a temperature is fitted on"
        return {"temperature": 1.0, "calibration": record}
    fitted = fit_temperature(logits, labels)
    record.update(fitted=True, fitted_temperature=fitted, nll_after=_held_out_nll(logits, labels),
                  **_scores(logits, labels, fitted, "after"))
    record["kept"] = record["nll_after"] < record["nll_before"]
    change = f"held-out validation NLL {record['nll_before']:.4f} -> {record['nll_after']:.4f}"
    record["reason"] = f"{change}: applied" if record["kept"] else f"{change}, no improvement: not applied"
    return {"temperature": fitted if record["kept"] else 1.0, "calibration": record}


def _validation_logits(network: torch.nn.Module, dataset, batch_size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    logits, labels = [], []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0):
            logits.append(network(batch["image"].to(device)).float().cpu())
            labels.append(torch.as_tensor(batch["label"]).view(-1))
    return torch.cat(logits), torch.cat(labels)


def calibrate_checkpoint(path: str | Path, network: torch.nn.Module, dataset, batch_size: int = 32,
                         device: torch.device | str = "cpu", min_samples: int = MIN_CALIBRATION_SAMPLES) -> float | None:
    """Decide the softmax temperature of checkpoint ``path`` on ``dataset`` (the validation split, preprocessed):
    fitted only on ``min_samples`` items or more, kept only if the held-out validation NLL improves (module
    docstring). Stores it and the ``calibration`` record in the checkpoint's metadata.

    Returns:
        The stored temperature (1.0 where none was kept); ``None`` where nothing was written: no validation split,
        no checkpoint, or a rank other than 0 of a distributed run (one process writes).
    """
    network = network_to_decide_on(path, network, dataset, "no temperature fitted")
    if network is None:
        return None
    decision = calibration_record(*_validation_logits(network, dataset, batch_size, device), min_samples)
    update_metadata(path, decision)  # a new digest: the metadata changed
    logger.info("%s: temperature %.4f (%s)", path, decision["temperature"], decision["calibration"]["reason"])
    return decision["temperature"]
