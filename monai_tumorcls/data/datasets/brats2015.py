"""Datalists for the BraTS-2015-derived "Brain Tumor" slices (Kaggle, Jakesh Bohaju): the data set of pipeline 3.

Layout: ``<root>/Brain Tumor.csv`` (columns ``Image``, ``Class``: 1 tumour, 0 non-tumour, plus texture features)
and ``<root>/Brain Tumor/Brain Tumor/<Image>.jpg`` (240x240 RGB slices). Items follow the Kaggle datalists
(:mod:`.kaggle`): ``{"image", "label", "class_name", "sha256", "group", "duplicate_in_training"}`` with the binary
class names (0 ``notumor``, 1 ``tumor``).

The set has no patient identifiers, and neighbouring slices of one scan look alike; 63 files are byte copies of
others. ``group`` joins images whose 32x32 grey thumbnails differ by at most ``max_rms`` grey levels (root mean
square, transitively), and every selection and split below moves whole groups, so no image has a near-copy on the
other side of a split (``docs/brats2015_split.md``, written by ``benchmarks/brats2015_near_duplicates.py``,
shows how the threshold was chosen and the split checked).

Selection rule (the paper: a balanced 3,060-image selection with 60 test images; our reading of it): per class,
seeded, whole groups drawn in random order until ``per_class`` images (1,530); of those, ``test_per_class`` (30) per
class for testing, then a stratified, group-aware ``val_fraction`` of the rest for validation.
"""

from __future__ import annotations

import csv
import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ..datalist import file_sha256, limit_per_class, stratified_split
from .kaggle import BINARY_CLASSES

__all__ = ["scan_brats2015", "thumbnail_rms", "near_duplicate_groups", "take_groups", "build_brats2015_datalists"]

logger = logging.getLogger(__name__)

CSV_NAME = "Brain Tumor.csv"
IMAGE_DIR = ("Brain Tumor", "Brain Tumor")


def scan_brats2015(root: str | Path) -> list[dict]:
    """Items ``{"image", "label", "class_name", "sha256"}`` in CSV order; a missing image file raises."""
    root = Path(root)
    csv_path = root / CSV_NAME
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: label table not found (set MONAI_DATA_DIRECTORY, see docs/data.md)")
    items = []
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            path = root.joinpath(*IMAGE_DIR, f"{row['Image']}.jpg")
            if not path.is_file():
                raise FileNotFoundError(f"{path}: listed in {CSV_NAME} but missing")
            label = int(row["Class"])
            items.append({"image": str(path.resolve()), "label": label, "class_name": BINARY_CLASSES[label],
                          "sha256": file_sha256(path)})
    return items


def _thumbnail(path: str, size: int) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L").resize((size, size), Image.BOX), dtype=np.float32).ravel()


def thumbnail_rms(paths: Sequence[str], size: int = 32, others: Sequence[str] | None = None) -> np.ndarray:
    """``(N, N)`` root-mean-square difference, in grey levels, between the ``size x size`` box-filtered grey
    thumbnails of every pair of images; with ``others``, ``(N, M)`` between ``paths`` and ``others``."""
    thumbs = np.stack([_thumbnail(p, size) for p in paths])
    other = thumbs if others is None else np.stack([_thumbnail(p, size) for p in others])
    sq, other_sq = (thumbs**2).sum(1), (other**2).sum(1)
    return np.sqrt(np.maximum(sq[:, None] + other_sq[None] - 2 * thumbs @ other.T, 0) / thumbs.shape[1])


def near_duplicate_groups(paths: Sequence[str], max_rms: float = 4.0, size: int = 32) -> list[int]:
    """Group index per image: connected components of "thumbnails differ by at most ``max_rms`` grey levels"."""
    _, labels = connected_components(csr_matrix(thumbnail_rms(paths, size) <= max_rms), directed=False)
    return labels.tolist()


def take_groups(items: Sequence[dict], count: int, rng: random.Random, group_key: str = "group") -> list[int]:
    """Indices of whole groups of ``items``, drawn in random order, adding up to exactly ``count`` (or all items).

    A group that would overshoot is skipped; with groups of a few images the total reaches ``count``.
    """
    groups: dict[int, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        groups[it[group_key]].append(i)
    order = [groups[g] for g in sorted(groups)]
    rng.shuffle(order)
    taken: list[int] = []
    for g in order:
        if len(taken) + len(g) <= count:
            taken += g
        if len(taken) == count:
            break
    return sorted(taken)


def build_brats2015_datalists(
    root: str | Path,
    val_fraction: float = 0.15,
    seed: int = 0,
    per_class: int | None = 1530,
    test_per_class: int = 30,
    max_rms: float = 4.0,
    max_per_class: int | None = None,
    max_per_class_test: int | None = None,
) -> dict[str, list[dict]]:
    """Training/validation/testing datalists of the BraTS-2015-derived slices (binary: notumor / tumor).

    Args:
        root: folder holding ``Brain Tumor.csv`` and ``Brain Tumor/Brain Tumor/``.
        val_fraction: part of the non-test selection held out for validation (stratified, group-aware).
        seed: seed of the selection, the splits and the smoke-run subsets.
        per_class: images selected per class (``None``: all).
        test_per_class: of those, images per class for testing.
        max_rms: near-duplicate threshold of :func:`near_duplicate_groups`.
        max_per_class / max_per_class_test: seeded subsets of the training / testing lists (smoke runs).
    """
    items = scan_brats2015(root)
    for it, group in zip(items, near_duplicate_groups([it["image"] for it in items], max_rms)):
        it["group"], it["duplicate_in_training"] = group, False  # whole groups per split: no copy across splits
    rng = random.Random(seed)
    train_all, test = [], []
    for label in range(len(BINARY_CLASSES)):
        cls = [it for it in items if it["label"] == label]
        cls = [cls[i] for i in take_groups(cls, len(cls) if per_class is None else per_class, rng)]
        test_idx = set(take_groups(cls, test_per_class, rng))
        test += [it for i, it in enumerate(cls) if i in test_idx]
        train_all += [it for i, it in enumerate(cls) if i not in test_idx]
    train, val = stratified_split(limit_per_class(train_all, max_per_class, seed), val_fraction, seed, group_key="group")
    test = limit_per_class(test, max_per_class_test if max_per_class_test is not None else max_per_class, seed)
    logger.info("BraTS-2015 datalists from %s: %d training, %d validation, %d testing (seed %d)",
                root, len(train), len(val), len(test), seed)
    return {"training": train, "validation": val, "testing": test}
