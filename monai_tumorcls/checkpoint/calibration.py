"""Temperature scaling of a trained checkpoint: the softmax temperature fitted on the validation split, stored in
the checkpoint's metadata with the calibration before and after (a new digest binds it to the weights)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from monai_tumorcls.metrics.calibration import brier_score, expected_calibration_error, fit_temperature
from monai_tumorcls.utils.distributed import dist_rank

from .io import DIGEST_KEY, METADATA_KEY, load_checkpoint, read_checkpoint, save_checkpoint

__all__ = ["calibrate_checkpoint"]

logger = logging.getLogger(__name__)


def calibrate_checkpoint(path: str | Path, network: torch.nn.Module, dataset, batch_size: int = 32,
                         device: torch.device | str = "cpu") -> float | None:
    """Fit the softmax temperature of checkpoint ``path`` on ``dataset`` (the validation split, preprocessed) and
    store it, with ECE and Brier score before and after, in the checkpoint's metadata. Returns the temperature
    (``None`` on ranks other than 0 of a distributed run: one process writes)."""
    if dist_rank() != 0:
        return None
    if len(dataset) == 0 or not Path(path).is_file():  # no validation split: nothing to fit on, no best checkpoint
        logger.warning("%s: no temperature fitted (%s)", path,
                       "empty validation split" if len(dataset) == 0 else "no checkpoint was written")
        return None
    network = getattr(network, "module", network)
    load_checkpoint(path, network)
    network.eval()
    logits, labels = [], []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0):
            logits.append(network(batch["image"].to(device)).float().cpu())
            labels.append(torch.as_tensor(batch["label"]).view(-1))
    logits, labels = torch.cat(logits), torch.cat(labels)
    temperature = fit_temperature(logits, labels)
    before, after = (torch.softmax(logits / t, dim=1).numpy() for t in (1.0, temperature))
    ckpt = dict(read_checkpoint(path))
    if METADATA_KEY not in ckpt:
        raise ValueError(f"{path}: no metadata to store the temperature in (save it with metadata)")
    y = labels.numpy()
    nll = [float(torch.nn.functional.cross_entropy(logits / t, labels)) for t in (1.0, temperature)]
    ckpt[METADATA_KEY]["temperature"] = temperature
    ckpt[METADATA_KEY]["calibration"] = {
        "split": "validation", "num_samples": len(y), "nll_before": nll[0], "nll_after": nll[1],  # what T minimises
        "ece_before": expected_calibration_error(before, y), "ece_after": expected_calibration_error(after, y),
        "brier_before": brier_score(before, y), "brier_after": brier_score(after, y),
    }
    weights = {k: v for k, v in ckpt.items() if k not in (METADATA_KEY, DIGEST_KEY)}
    save_checkpoint(path, weights, ckpt[METADATA_KEY])  # a new digest: the metadata changed
    logger.info("%s: temperature %.4f fitted on %d validation items (ECE, Brier before -> after: %s)", path,
                temperature, len(labels), ckpt[METADATA_KEY]["calibration"])
    return temperature
