"""The lesion threshold of a lesion-grounded checkpoint, chosen on the validation people after training.

A lesion map is a probability per pixel; its outline, area, volume and Dice need a threshold. 0.5 is the default,
but nothing makes it where a given model's map separates lesion from the rest best (measured: 0.5 for the 8-epoch
recipe, whose map never falls below about 0.15, 0.50-0.65 for the 12-epoch one, 0.15 for a map started at a 1 %
prior; ``docs/reports/external_validation.md``). After training, the threshold with the best mean *scan Dice*
(:func:`~monai_tumorcls.metrics.lesion.scan_dice`: each validation scan's slices pooled, so that what the map calls
lesion on a scan's tumour-free slices counts against it) over :data:`THRESHOLD_GRID` is stored in the checkpoint's
metadata as ``lesion_threshold``, which inference and evaluation use, under one condition: the validation split
holds at least ``min_scans`` scans with a manual mask (:data:`MIN_THRESHOLD_SCANS`), so that one number is not
fitted to a handful of people. Otherwise the default is stored. Either way ``lesion_threshold_choice`` records what
was done and why: the scan and slice counts, the mean scan Dice at the default and at the chosen threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from monai_tumorcls.metrics.lesion import overlap_counts, scan_dice

from .io import network_to_decide_on, update_metadata

__all__ = ["LESION_THRESHOLD", "MIN_THRESHOLD_SCANS", "THRESHOLD_GRID", "checkpoint_lesion_threshold",
           "choose_lesion_threshold", "lesion_threshold_record"]

logger = logging.getLogger(__name__)

#: lesion probability from which a pixel counts as lesion where the checkpoint stores no threshold of its own
LESION_THRESHOLD = 0.5

#: the thresholds tried: 0.05 to 0.95 in steps of 0.05
THRESHOLD_GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))

#: fewest validation scans (patient and sequence) with a manual mask a threshold is chosen on
MIN_THRESHOLD_SCANS = 5


def lesion_threshold_record(counts: np.ndarray, scans: Sequence[str], min_scans: int = MIN_THRESHOLD_SCANS) -> dict:
    """The threshold to store (``"lesion_threshold"``) and the record of the decision (``"lesion_threshold_choice"``)
    from the validation slices' ``counts`` (``(N, len(THRESHOLD_GRID), 3)``,
    :func:`~monai_tumorcls.metrics.lesion.overlap_counts`) and the scan of each slice.

    Of thresholds with the same mean scan Dice, the one nearest the default wins.
    """
    by_scan = scan_dice(counts, scans)
    mean_dice = np.mean(list(by_scan.values()), axis=0) if by_scan else np.full(len(THRESHOLD_GRID), np.nan)
    default = THRESHOLD_GRID.index(LESION_THRESHOLD)
    record = {"split": "validation", "num_scans": len(by_scan), "num_slices": len(scans), "min_scans": int(min_scans),
              "criterion": "mean scan Dice", "scan_dice_at_default": float(mean_dice[default])}
    if len(by_scan) < min_scans:
        record["reason"] = (f"{len(by_scan)} validation scans with a mask, fewer than the {min_scans} a threshold is "
                            "chosen on")
        return {"lesion_threshold": LESION_THRESHOLD, "lesion_threshold_choice": record}
    nearest_first = sorted(range(len(THRESHOLD_GRID)), key=lambda k: abs(THRESHOLD_GRID[k] - LESION_THRESHOLD))
    best = max(nearest_first, key=lambda k: mean_dice[k])  # max keeps the first of equals: the nearest the default
    record.update(scan_dice_at_chosen=float(mean_dice[best]),
                  reason=f"mean scan Dice {mean_dice[default]:.4f} at {LESION_THRESHOLD} -> {mean_dice[best]:.4f} at "
                         f"{THRESHOLD_GRID[best]} on {len(by_scan)} validation scans")
    return {"lesion_threshold": THRESHOLD_GRID[best], "lesion_threshold_choice": record}


def _validation_counts(network: torch.nn.Module, dataset, batch_size: int, device) -> tuple[np.ndarray, list[str]]:
    counts, scans = [], []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0):
            lesion_logits = network.forward_lesion(batch["image"].to(device))[1]
            counts.append(overlap_counts(lesion_logits.float().sigmoid().cpu(), batch["mask"], THRESHOLD_GRID))
            scans += [f"{g}/{s}" for g, s in zip(batch["group"], batch["sequence"])]
    return np.concatenate(counts), scans


def choose_lesion_threshold(path: str | Path, network: torch.nn.Module, dataset, batch_size: int = 32,
                            device: torch.device | str = "cpu", min_scans: int = MIN_THRESHOLD_SCANS) -> float | None:
    """Choose the lesion threshold of checkpoint ``path`` on ``dataset`` and store it with its record in the
    checkpoint's metadata (module docstring).

    Args:
        path: the trained checkpoint (with metadata).
        network: the network with ``forward_lesion`` whose weights it holds.
        dataset: validation slices with a manual mask, every slice of each scan that the model is measured on (tumour
            and tumour-free), preprocessed: ``image``, ``mask`` (the input's size), ``group`` (the patient) and
            ``sequence``.
        batch_size, device: of the forward passes.
        min_scans: fewest scans a threshold is chosen on.

    Returns:
        The stored threshold; ``None`` where nothing was written (see
        :func:`~monai_tumorcls.checkpoint.io.network_to_decide_on`).
    """
    network = network_to_decide_on(path, network, dataset, "no lesion threshold chosen")
    if network is None:
        return None
    decision = lesion_threshold_record(*_validation_counts(network, dataset, batch_size, device), min_scans)
    update_metadata(path, decision)
    logger.info("%s: lesion threshold %.2f (%s)", path, decision["lesion_threshold"],
                decision["lesion_threshold_choice"]["reason"])
    return decision["lesion_threshold"]


def checkpoint_lesion_threshold(metadata: Mapping) -> float:
    """The lesion threshold a checkpoint's ``metadata`` stores (checked by the schema), else
    :data:`LESION_THRESHOLD`."""
    return float(metadata.get("lesion_threshold", LESION_THRESHOLD))
