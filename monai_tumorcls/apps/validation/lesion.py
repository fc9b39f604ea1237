"""Slice outputs in one pass, with the lesion map of a lesion-grounded network.

For a network with ``forward_lesion`` (:class:`~monai_tumorcls.networks.LesionClassifier`) one forward pass per
batch gives everything :func:`~monai_tumorcls.apps.validation.external_validation` needs of a slice: the class
probabilities, the lesion area (pixels of the sigmoid map >= the model's lesion threshold, for the lesion-volume
series rule) and, on a tumour slice with a manual mask, the lesion map against the mask: the Dice (at the default
0.5 and at the model's threshold, from the same pixel counts as the scan Dice), MONAI's
``HausdorffDistanceMetric(percentile=95)`` (pixels of the input) and the pointing game of the map's peak (mask
grown by 4 px, as Grad-CAM's); on every slice with a mask (tumour-free too), the pixel counts of the scan Dice
(:func:`~monai_tumorcls.metrics.lesion.scan_dice`). Any other network gives the probabilities alone
(``lesion_area`` ``None``).

The lesion-volume series rule sums a series' lesion areas into millilitres with a :class:`NominalGeometry`: the LGG
TIFF slices carry no spacing, so the millilitres are nominal (the same field of view and slice spacing for every
series); the threshold is chosen on validation people in the same units, so it is consistent, not calibrated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from monai.data import DataLoader, Dataset
from monai.metrics import HausdorffDistanceMetric

from monai_tumorcls.checkpoint.lesion_threshold import LESION_THRESHOLD
from monai_tumorcls.metrics.lesion import dice_from_counts, overlap_counts, scan_dice
from monai_tumorcls.visualize.saliency import pointing_hits, saliency_peaks

__all__ = ["NominalGeometry", "SliceOutputs", "has_lesion_head", "read_lesion_mask", "predict_outputs",
           "segmentation_summary", "lesion_volume_scores"]


@dataclass(frozen=True)
class NominalGeometry:
    """Nominal size of a slice, for lesion volumes in ml (the LGG TIFFs store none: 256 px over about 24 cm)."""

    field_of_view_mm: float = 240.0
    slice_spacing_mm: float = 3.0


@dataclass
class SliceOutputs:
    """What one pass gives per item: ``probabilities`` ``(N, C)``; ``lesion_area`` ``(N,)`` fraction of the input
    that the lesion map covers (``None`` without a lesion head); ``segmentation``: per tumour item with a mask (by
    index) its ``dice`` and ``hd95`` (pixels of the input; NaN for an empty map) at :data:`LESION_THRESHOLD`,
    ``threshold_dice`` (at the model's threshold) and ``hit`` (lesion-map peak); ``overlap``: per item with a mask
    (by index) its ``(2, 3)`` pixel counts (:func:`~monai_tumorcls.metrics.lesion.overlap_counts`) at the default
    and at the model's threshold."""

    probabilities: np.ndarray
    lesion_area: np.ndarray | None = None
    segmentation: dict[int, dict] = field(default_factory=dict)
    overlap: dict[int, np.ndarray] = field(default_factory=dict)

    def subset(self, indices: Sequence[int]) -> SliceOutputs:
        """The outputs of items ``indices`` (segmentation and overlap re-indexed to their new places)."""
        idx = list(indices)
        return SliceOutputs(self.probabilities[idx], None if self.lesion_area is None else self.lesion_area[idx],
                            {new: self.segmentation[old] for new, old in enumerate(idx) if old in self.segmentation},
                            {new: self.overlap[old] for new, old in enumerate(idx) if old in self.overlap})


def has_lesion_head(network: torch.nn.Module) -> bool:
    return callable(getattr(getattr(network, "module", network), "forward_lesion", None))


def read_lesion_mask(path: str, shape: tuple[int, int]) -> np.ndarray:
    """The manual mask (TIFF) at ``path`` resized to ``shape`` (nearest: stays binary)."""
    import tifffile
    from skimage.transform import resize

    return resize(tifffile.imread(path) > 0, shape, order=0, preserve_range=True, anti_aliasing=False)


def _segmentation(lesion: torch.Tensor, masks: np.ndarray, counts: np.ndarray) -> list[dict]:
    """Dice (from ``counts`` ``(B, 2, 3)``: :func:`overlap_counts` at the default and the model's threshold), HD95 (at
    the default threshold, as every fold was first measured) and pointing hit of ``lesion`` ``(B, 1, H, W)``
    probabilities against ``masks`` ``(B, H, W)``."""
    dice, threshold_dice = dice_from_counts(counts).T
    pred = (lesion >= LESION_THRESHOLD).float()
    truth = torch.as_tensor(masks[:, None] > 0, dtype=torch.float32)
    hd95 = HausdorffDistanceMetric(include_background=True, percentile=95, reduction="none")(pred, truth)[:, 0]
    hits = pointing_hits(saliency_peaks(lesion[:, 0].numpy()), masks)
    empty = counts[:, 0, 1] == 0  # no lesion called: Dice 0, no distance to speak of
    return [{"dice": float(d), "threshold_dice": float(dt), "hit": bool(t),
             "hd95": float("nan") if e or not torch.isfinite(h) else float(h)}
            for d, dt, h, t, e in zip(dice, threshold_dice, hd95, hits, empty)]


def predict_outputs(network: torch.nn.Module, items: Sequence[dict], transform: Callable, batch_size: int = 64,
                    device: torch.device | str = "cpu", lesion_threshold: float = LESION_THRESHOLD) -> SliceOutputs:
    """:class:`SliceOutputs` of ``items`` after ``transform`` in one pass (eval mode, no gradients);
    ``lesion_threshold``: the model's (its checkpoint's), for the lesion areas and the threshold Dice."""
    network.eval()
    lesion_head = has_lesion_head(network)
    probs, areas, segmentation, overlap = [], [], {}, {}
    with torch.no_grad():
        for b, batch in enumerate(DataLoader(Dataset(list(items), transform), batch_size=batch_size, num_workers=0)):
            start = b * batch_size
            chunk = items[start : start + batch_size]
            images = batch["image"].to(device)
            if not lesion_head:
                probs.append(torch.softmax(network(images).float(), dim=1).cpu())
                continue
            logits, lesion_logits = getattr(network, "module", network).forward_lesion(images)
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
            lesion = torch.sigmoid(lesion_logits.float()).cpu()
            areas.append((lesion >= lesion_threshold).flatten(1).float().mean(1))
            masked = [i for i, it in enumerate(chunk) if it.get("mask")]
            if not masked:
                continue
            masks = np.stack([read_lesion_mask(chunk[i]["mask"], tuple(lesion.shape[2:])) for i in masked])
            thresholds = (LESION_THRESHOLD, lesion_threshold)
            counts = overlap_counts(lesion[masked], torch.as_tensor(masks[:, None]), thresholds)
            overlap.update({start + i: c for i, c in zip(masked, counts)})
            tumour = [k for k, i in enumerate(masked) if chunk[i].get("label") == 1]
            if tumour:  # a batch of tumour-free slices only has no lesion to compare with
                for k, scores in zip(tumour, _segmentation(lesion[masked][tumour], masks[tumour], counts[tumour])):
                    segmentation[start + masked[k]] = scores
    probabilities = torch.cat(probs).numpy() if probs else np.zeros((0, 0))
    return SliceOutputs(probabilities, torch.cat(areas).numpy() if areas else None, segmentation, overlap)


def segmentation_summary(outputs: SliceOutputs, indices: Sequence[int], scans: Sequence[str]) -> dict:
    """Over the tumour items ``indices`` that have a mask: Dice (mean; an empty map counts 0), HD95 (median over
    non-empty maps), the lesion-map pointing game, and the Dice at the model's threshold; over the scans (``scans``:
    each index's scan) of the items that have a mask: the mean scan Dice at the default and the model's threshold."""
    rows = [outputs.segmentation[i] for i in indices if i in outputs.segmentation]
    if not rows:
        return {}
    hd95 = [r["hd95"] for r in rows if np.isfinite(r["hd95"])]
    masked = [k for k, i in enumerate(indices) if i in outputs.overlap]
    by_scan = scan_dice(np.stack([outputs.overlap[indices[k]] for k in masked]), [scans[k] for k in masked])
    scan_means = np.mean(list(by_scan.values()), axis=0)
    return {"dice_mean": float(np.mean([r["dice"] for r in rows])),
            "dice_median": float(np.median([r["dice"] for r in rows])),
            "hd95_median_px": float(np.median(hd95)) if hd95 else None,
            "lesion_map_empty": float(np.mean([not np.isfinite(r["hd95"]) for r in rows])),
            "pointing_game_lesion_map": float(np.mean([r["hit"] for r in rows])), "segmentation_n": len(rows),
            "threshold_dice_mean": float(np.mean([r["threshold_dice"] for r in rows])),
            "scan_dice_mean_at_default": float(scan_means[0]), "scan_dice_mean": float(scan_means[1]),
            "scan_n": len(by_scan)}


def lesion_volume_scores(groups: Sequence[str], lesion_area: np.ndarray,
                         geometry: NominalGeometry = NominalGeometry()) -> dict[str, float]:
    """Nominal lesion volume (ml) of each group: the sum of its slices' lesion areas x field of view x spacing."""
    groups = np.asarray(groups)
    slice_ml = np.asarray(lesion_area, dtype=float) * geometry.field_of_view_mm**2 * geometry.slice_spacing_mm / 1000
    return {str(g): float(slice_ml[groups == g].sum()) for g in dict.fromkeys(groups.tolist())}
