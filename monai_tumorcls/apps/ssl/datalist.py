"""Unlabelled datalists for self-supervised pretraining, drawn from the Training folder only."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Sequence

from monai_tumorcls.data.datalist import list_images, scan_class_folder, stratified_split
from monai_tumorcls.data.datasets.kaggle import KAGGLE_CLASSES

__all__ = ["unlabelled_datalist", "assert_training_only"]

logger = logging.getLogger(__name__)


def assert_training_only(
    data: Sequence[dict],
    root: str | Path,
    train_dir: str = "Training",
    forbidden_dirs: Sequence[str] = ("Testing",),
    key: str = "image",
) -> None:
    """Raise ``ValueError`` unless every item's file lies below ``root/train_dir`` and none below a
    ``root/<forbidden_dirs>`` folder (paths resolved, so links and ``..`` cannot smuggle a test image in).

    Args:
        data: datalist items.
        root: dataset root holding ``train_dir`` and the forbidden folders.
        train_dir: the only folder images may come from.
        forbidden_dirs: folders that must never be read (the held-out test split).
        key: item key of the file path.
    """
    root = Path(root)
    if train_dir in forbidden_dirs:
        raise ValueError(f"train_dir {train_dir!r} is one of the forbidden folders {list(forbidden_dirs)}.")
    allowed = (root / train_dir).resolve()
    forbidden = [(root / f).resolve() for f in forbidden_dirs]
    bad = []
    for item in data:
        path = Path(item[key]).resolve()
        if not path.is_relative_to(allowed) or any(path.is_relative_to(f) for f in forbidden):
            bad.append(str(path))
    if bad:
        raise ValueError(
            f"self-supervised pretraining may only read {allowed} (never {[str(f) for f in forbidden]}): "
            f"{len(bad)} item(s) outside it, e.g. {bad[:3]}"
        )


def unlabelled_datalist(
    root: str | Path,
    max_images: int | None = None,
    seed: int = 0,
    exclude_validation: bool = True,
    val_fraction: float = 0.15,
    train_dir: str = "Training",
    forbidden_dirs: Sequence[str] = ("Testing",),
) -> list[dict]:
    """``[{"image": path}, ...]`` of Training images without labels, checked by :func:`assert_training_only`.

    Args:
        root: Kaggle dataset root (``Training/<class>/`` and ``Testing/<class>/``).
        max_images: a seeded random subset of at most this many images (``None``: all).
        seed: seed of the validation split and of the subset.
        exclude_validation: leave out the validation split the classification bundles hold out with the same
            ``val_fraction`` and ``seed`` (stratified, duplicate-safe; identical to their split when they use all
            images, i.e. ``max_per_class: null``), so that their model selection is on images the encoder has not
            seen. ``False`` uses every Training image.
        val_fraction: validation fraction of the classification bundles.
        train_dir: the Training folder name.
        forbidden_dirs: folders never read (the Testing split).

    Returns:
        items in sorted path order.
    """
    root = Path(root)
    if exclude_validation:
        train, val = stratified_split(scan_class_folder(root / train_dir, KAGGLE_CLASSES), val_fraction, seed)
        paths = sorted(it["image"] for it in train)
    else:
        train, val = None, []
        paths = [str(p.resolve()) for p in list_images(root / train_dir)]
    if max_images is not None:
        if max_images < 1:
            raise ValueError(f"max_images must be positive or None, got {max_images}.")
        if max_images < len(paths):
            keep = set(random.Random(seed).sample(range(len(paths)), max_images))
            paths = [p for i, p in enumerate(paths) if i in keep]
    data = [{"image": p} for p in paths]
    assert_training_only(data, root, train_dir, forbidden_dirs)
    logger.info(
        "unlabelled datalist: %d %s images (%d validation images held out, no %s image)",
        len(data), train_dir, len(val), "/".join(forbidden_dirs),
    )
    return data
