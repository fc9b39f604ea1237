"""Image files (PNG, JPEG) through the same predictor as the slices of a series: each image is a one-slice series
whose slice was loaded and preprocessed by the bundle's image dataset
(:class:`~monai_tumorcls.data.FailSafeDataset`: an unreadable file is a placeholder with its error). One row per
file (:func:`~monai_tumorcls.handlers.prediction_writer.prediction_row`), and with ``saliency_dir`` a Grad-CAM
overlay of the predicted class per classified image."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import decollate_batch

from ...handlers.collector import item_filename
from ...handlers.prediction_writer import prediction_row, printable_name
from ...handlers.saliency_writer import overlay_name
from ...utils.progress import progress_bar
from ...utils.stages import stage, timed_items
from .lesion import image_lesion
from .slice_prediction import SlicePredictor

__all__ = ["classify_image_batches"]


def classify_image_batches(
    predictor: SlicePredictor, batches: Iterable[dict], saliency_dir: Path | None = None
) -> list[dict]:
    """The prediction rows of the items of ``batches`` (collated dataset items: ``image``, ``image_path``,
    ``error``, ``skipped``, ``warnings``)."""
    rows = []
    for batch in progress_bar(timed_items(batches, "preprocessing"), "images"):  # the loader reads and preprocesses
        rows += _rows(predictor, decollate_batch(batch, detach=True), saliency_dir)
    return rows


def _rows(predictor: SlicePredictor, items: Sequence[dict], saliency_dir: Path | None) -> list[dict]:
    """The rows of one batch: placeholders (a read error, a skipped file) are not classified."""
    read = [i for i, item in enumerate(items) if not (item.get("error") or item.get("skipped"))]
    probs = np.full((len(items), len(predictor.class_names)), np.nan)
    images = torch.stack([torch.as_tensor(items[i]["image"]) for i in read]) if read else None
    lesions = {}
    if read and predictor.has_lesion:
        probs[read], maps = predictor.predict_lesion(images)
        lesions = {i: image_lesion(maps[k], _original_shape(items[i]), predictor.lesion_threshold)
                   for k, i in enumerate(read)}
    elif read:
        probs[read] = predictor.predict(images)
    classified = [k for k, i in enumerate(read) if np.isfinite(probs[i]).all()]  # a broken model explains nothing
    extras = {i: lesions.get(i, {}) for i in read}
    if saliency_dir is not None and classified:
        with stage("saliency"):
            found = _saliency(predictor, images[classified], [items[read[k]] for k in classified], saliency_dir)
        for k, saliency in zip(classified, found):
            extras[read[k]] = {**extras[read[k]], **saliency}
    rows = []
    for i, item in enumerate(items):
        error, skipped = str(item.get("error") or ""), str(item.get("skipped") or "")
        finite = probs[i] if np.isfinite(probs[i]).all() else None
        rows.append(prediction_row(printable_name(item_filename(item)), predictor.class_names, finite,
                                   error or skipped, not error and bool(skipped), str(item.get("warnings") or ""),
                                   extras.get(i) or None))
    return rows


def _original_shape(item: dict):
    """The spatial shape of an item's image as read (before the preprocessing's resize), when its meta has it."""
    shape = getattr(item["image"], "meta", {}).get("spatial_shape")
    return None if shape is None else tuple(int(v) for v in np.asarray(shape).ravel()[:2])


def _saliency(predictor: SlicePredictor, images: torch.Tensor, items: Sequence[dict], saliency_dir: Path) -> list:
    """The saliency of each of ``images`` (Grad-CAM of its predicted class, or its lesion map):
    ``saliency_peak`` and ``saliency_file`` per image."""
    names = [overlay_name(item_filename(item)) for item in items]
    peaks = predictor.explain(images, None, [saliency_dir / name for name in names])
    return [{"saliency_peak": peak, "saliency_file": f"{saliency_dir.name}/{name}"} for name, peak in zip(names, peaks)]
