"""Datalists from folders: class-per-folder trees, inference folders, seeded stratified splits and subsets.

Every item is a dictionary in MONAI's datalist convention (``{"image": "/abs/path.jpg", "class_name": ...}``).
Dataset-specific datalists (the Kaggle set's classes and tasks, LGG, BraTS 2015, the multi-source bundle) are built
on these in :mod:`monai_tumorcls.data.datasets`.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from monai_tumorcls.utils.deprecation import moved_names

from .input_limits import MAX_INPUT_FILE_BYTES, entry_problem, open_capped
from .own_outputs import is_output_folder, own_output_kind, skip_reason

__all__ = [
    "IMAGE_SUFFIXES",
    "scan_class_folder",
    "stratified_split",
    "limit_per_class",
    "list_images",
    "file_sha256",
    "class_counts",
    "image_folder_datalist",
]


IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")

# the Kaggle set's names moved to its own module; the old names warn for one release
__getattr__ = moved_names(__name__, "monai_tumorcls.data.datasets.kaggle", [
    "KAGGLE_CLASSES", "TUMOUR_CLASSES", "BINARY_CLASSES", "KAGGLE_SHORTCUT_SIZE", "has_shortcut_size", "label_items",
    "task_class_names", "build_kaggle_datalists",
])


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a regular file's bytes.

    Raises:
        ImageReadError: ``path`` is not a regular file (never opened) or holds more than
            :data:`~monai_tumorcls.data.input_limits.MAX_INPUT_FILE_BYTES`.
    """
    h = hashlib.sha256()
    with open_capped(path, MAX_INPUT_FILE_BYTES) as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def list_images(folder: str | Path, suffixes: Sequence[str] = IMAGE_SUFFIXES, recursive: bool = True) -> list[Path]:
    """Sorted image files below ``folder`` (suffix match is case-insensitive; hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    pattern = "**/*" if recursive else "*"
    sfx = {s.lower() for s in suffixes}
    return sorted(
        p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in sfx and not p.name.startswith(".")
    )


def scan_class_folder(folder: str | Path, class_names: Sequence[str], hash_files: bool = True) -> list[dict]:
    """Items ``{"image", "class_name"[, "sha256"]}`` for ``folder/<class_name>/*`` (sorted, deterministic).

    Raises:
        FileNotFoundError: ``folder`` or one of the class folders is missing.
        ValueError: a class folder holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: dataset split folder not found")
    items = []
    for name in class_names:
        files = list_images(folder / name, recursive=False) if (folder / name).is_dir() else None
        if files is None:
            raise FileNotFoundError(f"{folder / name}: class folder not found (expected classes {list(class_names)})")
        if not files:
            raise ValueError(f"{folder / name}: class folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
        for f in files:
            item = {"image": str(f.resolve()), "class_name": name}
            if hash_files:
                item["sha256"] = file_sha256(f)
            items.append(item)
    return items


def stratified_split(
    items: Sequence[dict], val_fraction: float, seed: int = 0, strata_key: str = "class_name", group_key: str = "sha256"
) -> tuple[list[dict], list[dict]]:
    """Seeded stratified split into (train, val).

    Items sharing ``group_key`` (identical bytes) go to the same side, so validation never holds a copy of a
    training image. Each stratum contributes ``round(val_fraction * n)`` items (whole groups, as near as groups
    allow). Output order follows the input order.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = random.Random(seed)
    by_stratum: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, it in enumerate(items):
        by_stratum[it[strata_key]][it.get(group_key, str(i))].append(i)
    val_idx: set[int] = set()
    for stratum in sorted(by_stratum):
        groups = [by_stratum[stratum][g] for g in sorted(by_stratum[stratum])]
        rng.shuffle(groups)
        target = round(val_fraction * sum(len(g) for g in groups))
        taken = 0
        for g in groups:
            if taken >= target:
                break
            val_idx.update(g)
            taken += len(g)
    train = [it for i, it in enumerate(items) if i not in val_idx]
    val = [it for i, it in enumerate(items) if i in val_idx]
    return train, val


def limit_per_class(items: Sequence[dict], max_per_class: int | None, seed: int = 0, key: str = "class_name") -> list:
    """A seeded random subset with at most ``max_per_class`` items per class (``None``: all), in input order."""
    if max_per_class is None:
        return list(items)
    rng = random.Random(seed)
    by_cls: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        by_cls[it[key]].append(i)
    keep: set[int] = set()
    for cls in sorted(by_cls):
        idx = by_cls[cls]
        keep.update(idx if len(idx) <= max_per_class else rng.sample(idx, max_per_class))
    return [it for i, it in enumerate(items) if i in keep]


def class_counts(items: Iterable[Mapping], key: str = "class_name") -> dict[str, int]:
    """Number of items per ``key`` value (sorted by key)."""
    counts: dict[str, int] = defaultdict(int)
    for it in items:
        counts[it[key]] += 1
    return dict(sorted(counts.items()))


def image_folder_datalist(
    folder: str | Path, suffixes: Sequence[str] | None = None, exclude: Sequence[str | os.PathLike] = ()
) -> list[dict]:
    """Inference datalist ``[{"image": path}]`` of every non-hidden entry below ``folder`` (sorted).

    With ``suffixes=None`` no file is filtered out by name, so a corrupt or mislabelled file gets its own
    per-file error from the reader instead of being silently ignored. Entries that are found but must not or cannot
    be read as files are listed too, never opened, with the reason in ``problem``
    (:class:`~monai_tumorcls.data.FailSafeDataset` turns it into the item's error row): dangling symbolic links, links
    to folders (not followed: no loops), folders that cannot be listed, and anything that is not a regular file
    (:func:`~monai_tumorcls.data.input_limits.entry_problem`: a FIFO would block the run, ``/dev/zero`` never ends).
    This package's own outputs get the reason in ``skip`` (a "skipped" row, not a failure;
    :mod:`~monai_tumorcls.data.own_outputs`): the output folder of a run (it holds the run's lock file) and any folder
    in ``exclude`` are not entered, and Grad-CAM overlays and prediction tables are not classified.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ValueError: ``folder`` holds nothing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        if not os.path.lexists(folder):
            raise FileNotFoundError(f"{folder}: input folder not found")
        return [_entry_item(folder)]
    sfx = None if suffixes is None else {s.lower() for s in suffixes}
    excluded = {os.path.realpath(p) for p in exclude}
    items: list[dict] = []
    unlistable = lambda e: items.append({"image": str(Path(e.filename).absolute()), "problem": "folder cannot be listed (permission denied or unreadable)"})  # noqa: E731
    for dirpath, dirnames, filenames in os.walk(folder, onerror=unlistable):  # links to folders are not entered
        dirnames[:] = _folders_to_enter(Path(dirpath), dirnames, excluded, items)
        for name in sorted(f for f in filenames if not f.startswith(".")):
            if sfx is None or Path(name).suffix.lower() in sfx:
                items.append(_entry_item(Path(dirpath) / name))
    if not items:
        raise ValueError(f"{folder}: input folder holds no file to classify")
    return sorted(items, key=lambda it: it["image"])


def _folders_to_enter(here: Path, names: Sequence[str], excluded: set[str], items: list[dict]) -> list[str]:
    """The non-hidden sub-folders of ``here`` to scan; links to folders and output folders go to ``items``."""
    keep = []
    for name in sorted(n for n in names if not n.startswith(".")):
        path = here / name
        if path.is_symlink():
            items.append({"image": str(path.absolute()), "problem": "symbolic link to a folder, not followed"})
        elif is_output_folder(path) or os.path.realpath(path) in excluded:
            items.append({"image": str(path.absolute()), "skip": skip_reason("the output folder of a run")})
        else:
            keep.append(name)
    return keep


def _entry_item(path: Path) -> dict:
    """The datalist item of a file entry: ``problem`` when it must not be opened, ``skip`` for an own output."""
    problem = entry_problem(path)
    if problem is not None:
        return {"image": str(path.absolute()), "problem": problem}
    kind = own_output_kind(path)
    return {"image": str(path.resolve()), **({"skip": skip_reason(kind)} if kind else {})}
