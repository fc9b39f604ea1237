"""The Kaggle Brain Tumor MRI Dataset (Masoud Nickparvar): its classes, tasks and datalists.

The tree is ``<root>/Training/<class>/*`` and ``<root>/Testing/<class>/*``. Every item is a dictionary in
MONAI's datalist convention::

    {"image": "/abs/path.jpg", "label": 1, "class_name": "glioma", "sha256": "...",
     "duplicate_in_training": False, "size_512x512": True}

``duplicate_in_training`` marks Testing files whose bytes equal a Training file (the upstream dataset has
103), so metrics can be reported with and without them. ``size_512x512`` marks Testing images of
:data:`KAGGLE_SHORTCUT_SIZE`: the set merges sources, and nearly every 512x512 image is a tumour slice while nearly
every tumour-free image has another size (``docs/kaggle_size_shortcut.md``), so the evaluate configs also report the
images of other sizes, where image size gives nothing away. The validation split
(:func:`~monai_tumorcls.data.datalist.stratified_split`) is stratified by class, seeded, and keeps byte-identical
files together so that no image is in both training and validation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from PIL import Image

from ..datalist import limit_per_class, scan_class_folder, stratified_split

__all__ = [
    "KAGGLE_CLASSES",
    "TUMOUR_CLASSES",
    "BINARY_CLASSES",
    "KAGGLE_SHORTCUT_SIZE",
    "has_shortcut_size",
    "label_items",
    "task_class_names",
    "build_kaggle_datalists",
]

logger = logging.getLogger(__name__)

KAGGLE_CLASSES: tuple[str, ...] = ("glioma", "meningioma", "notumor", "pituitary")
TUMOUR_CLASSES: tuple[str, ...] = ("glioma", "meningioma", "pituitary")
#: binary task: index 0 = no tumour, index 1 = tumour (the positive class for precision/recall)
BINARY_CLASSES: tuple[str, ...] = ("notumor", "tumor")
#: (width, height) of the Kaggle set's figshare source, nearly all tumour slices (see the module docstring)
KAGGLE_SHORTCUT_SIZE: tuple[int, int] = (512, 512)


def has_shortcut_size(path: str | Path) -> bool:
    """Whether the image is :data:`KAGGLE_SHORTCUT_SIZE`, from its header (the pixels are not decoded); ``False``
    when the header cannot be read (the reader reports that file's error when it is loaded)."""
    try:
        with Image.open(path) as image:
            return image.size == KAGGLE_SHORTCUT_SIZE
    except (OSError, ValueError):
        return False


def label_items(items: Iterable[dict], task: str = "4class") -> list[dict]:
    """Add integer ``label`` to items for ``task`` ``"4class"`` (:data:`KAGGLE_CLASSES` order) or ``"binary"``
    (0 = notumor, 1 = any tumour class)."""
    out = []
    for it in items:
        name = it["class_name"]
        if task == "4class":
            if name not in KAGGLE_CLASSES:
                raise ValueError(f"{it['image']}: class {name!r} is not one of {KAGGLE_CLASSES}")
            label = KAGGLE_CLASSES.index(name)
        elif task == "binary":
            if name not in KAGGLE_CLASSES:
                raise ValueError(f"{it['image']}: class {name!r} is not one of {KAGGLE_CLASSES}")
            label = int(name in TUMOUR_CLASSES)
        else:
            raise ValueError(f"task must be '4class' or 'binary', got {task!r}")
        out.append({**it, "label": label})
    return out


def task_class_names(task: str) -> tuple[str, ...]:
    """Class names indexed by label for ``task``."""
    return {"4class": KAGGLE_CLASSES, "binary": BINARY_CLASSES}[task]


def build_kaggle_datalists(
    root: str | Path,
    task: str = "binary",
    val_fraction: float = 0.15,
    seed: int = 0,
    max_per_class: int | None = None,
    max_per_class_test: int | None = None,
    train_dir: str = "Training",
    test_dir: str = "Testing",
) -> dict[str, list[dict]]:
    """Training/validation/testing datalists for the Kaggle Brain Tumor MRI Dataset layout.

    Args:
        root: folder holding ``Training/`` and ``Testing/`` with one sub-folder per class.
        task: ``"binary"`` (tumour vs notumor) or ``"4class"``.
        val_fraction: part of Training held out for validation (stratified, seeded, duplicate-safe).
        seed: seed of the split and of the per-class subsets.
        max_per_class: if set, a seeded subset of at most this many Training images per class (smoke runs).
        max_per_class_test: likewise for Testing (defaults to ``max_per_class``).

    Returns:
        ``{"training": [...], "validation": [...], "testing": [...]}``; Testing items carry
        ``duplicate_in_training`` (bytes identical to a Training file) and ``size_512x512``
        (:func:`has_shortcut_size`).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root not found (set MONAI_DATA_DIRECTORY, see docs/data.md)")
    train_all = label_items(scan_class_folder(root / train_dir, KAGGLE_CLASSES), task)
    test_all = label_items(scan_class_folder(root / test_dir, KAGGLE_CLASSES), task)
    train_hashes = {it["sha256"] for it in train_all}
    for it in test_all:
        it["duplicate_in_training"] = it["sha256"] in train_hashes
        it["size_512x512"] = has_shortcut_size(it["image"])
    for it in train_all:
        it["duplicate_in_training"] = False
    train_all = limit_per_class(train_all, max_per_class, seed)
    test_all = limit_per_class(test_all, max_per_class_test if max_per_class_test is not None else max_per_class, seed)
    train, val = stratified_split(train_all, val_fraction, seed)
    logger.info(
        "datalists from %s (%s): %d training, %d validation, %d testing (%d testing files duplicate a training file)",
        root, task, len(train), len(val), len(test_all), sum(it["duplicate_in_training"] for it in test_all),
    )
    return {"training": train, "validation": val, "testing": test_all}
