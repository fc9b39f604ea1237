"""Datalists of the multi-source tumour-vs-no-tumour bundle: Kaggle images, LGG patient slices, IXI healthy volumes.

Every source is split by its own unit (Kaggle: byte-identical image groups; LGG and IXI: the person), and the LGG and
IXI test sets are the same patient fold whatever the model is trained on, so a Kaggle-only model and a multi-source
model are measured on the same held-out people.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from ...utils.deprecation import moved_keywords
from ..volume_slices import LabelledVolume
from .kaggle import build_kaggle_datalists
from .lgg import LGG_DIRNAME, LGG_SEQUENCES, lgg_fold_datalists, lgg_slice_items, patient_folds, scan_lgg_folder

logger = logging.getLogger(__name__)

__all__ = [
    "IXI_DIRNAME", "SOURCES", "LggSlices", "ixi_volumes", "build_multisource_datalists", "source_balanced_sampler",
]

#: folder below the data root holding the IXI healthy T1 volumes
IXI_DIRNAME = "ixi-healthy-t1-2mm/t1"
SOURCES: tuple[str, ...] = ("kaggle", "lgg", "ixi")
_IXI = re.compile(r"^(IXI\d+)-([A-Za-z]+)-\d+_T1\.nii(\.gz)?$")


def ixi_volumes(folder: str | PathLike, max_subjects: int | None = None) -> list[LabelledVolume]:
    """The IXI T1 volumes of ``folder`` as tumour-free :class:`LabelledVolume` (group = subject, absolute paths).

    Raises:
        FileNotFoundError: ``folder`` is missing or holds no ``IXI<n>-<site>-<n>_T1.nii.gz`` file.
    """
    folder = Path(folder)
    files = sorted(f for f in folder.iterdir() if _IXI.match(f.name)) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{folder}: no IXI<n>-<site>-<n>_T1.nii.gz volume found (see docs/data.md)")
    return [LabelledVolume(str(f.resolve()), f.name.split("_")[0], None, "IXI healthy T1 (2 mm, 8-bit)")
            for f in files[:max_subjects]]


def _ixi_splits(volumes: Sequence[LabelledVolume], fold: int, n_folds: int, val_fraction: float, seed: int) -> dict:
    fold_of = patient_folds(((v.group, _IXI.match(Path(v.image).name).group(2)) for v in volumes), n_folds, seed)
    rest = [v for v in volumes if fold_of[v.group] != fold]
    random.Random(seed).shuffle(rest)
    n_val = round(val_fraction * len(rest))
    return {"training": rest[n_val:], "validation": rest[:n_val], "testing": [v for v in volumes if fold_of[v.group] == fold]}


@dataclass
class LggSlices:
    """Which LGG slices :func:`build_multisource_datalists` takes
    (:func:`~monai_tumorcls.data.datasets.lgg.lgg_slice_items`, :func:`~monai_tumorcls.data.datasets.lgg.scan_lgg_folder`).

    Attributes:
        sequences: names from :data:`~monai_tumorcls.data.datasets.lgg.LGG_SEQUENCES` (one item per sequence).
        min_area: mask pixels (at 256x256) that make a tumour slice.
        margin: mask-free slices this close to a slice with any mask are edge slices (left out).
        max_patients: LGG patients read (smoke runs; None = all).
    """

    sequences: Sequence[str] = tuple(LGG_SEQUENCES)
    min_area: int = 64
    margin: int = 1
    max_patients: int | None = None


#: the loose keywords of build_multisource_datalists before LggSlices grouped them
_LGG_KEYWORDS = {"lgg_sequences": "sequences", "lgg_min_area": "min_area", "lgg_margin": "margin",
                 "max_patients": "max_patients"}


def build_multisource_datalists(
    data_root: str | PathLike,
    fold: int = 0,
    n_folds: int = 5,
    seed: int = 0,
    val_fraction: float = 0.15,
    lgg: LggSlices | None = None,
    max_per_class: int | None = None,
    **moved: Any,
) -> dict[str, dict[str, list]]:
    """``{"kaggle": {...}, "lgg": {...}, "ixi": {...}}``, each ``{"training", "validation", "testing"}``.

    Args:
        data_root: ``$MONAI_DATA_DIRECTORY``: holds ``brain-tumor-mri-dataset/``, :data:`LGG_DIRNAME` and
            :data:`IXI_DIRNAME`.
        fold: the held-out LGG/IXI fold; ``n_folds``, ``seed``, ``val_fraction``: see
            :func:`~monai_tumorcls.data.datasets.lgg.lgg_fold_datalists` (the Kaggle split uses the same seed and fraction).
        lgg: which LGG slices (:class:`LggSlices`).
        max_per_class: Kaggle images per class (smoke runs).
        moved: ``lgg_sequences``, ``lgg_min_area``, ``lgg_margin``, ``max_patients`` as loose keywords (before
            they were grouped in ``lgg``): still taken, with a ``FutureWarning``, for one release.

    Returns:
        Kaggle and LGG lists hold datalist items (with ``source``); IXI lists hold
        :class:`~monai_tumorcls.data.volume_slices.LabelledVolume` (whole subjects: slices are cut by the caller,
        for training with :func:`~monai_tumorcls.data.volume_slices.volume_slice_datalist`).
    """
    lgg_slices = moved_keywords("build_multisource_datalists", lgg, LggSlices, moved, _LGG_KEYWORDS)
    root = Path(data_root)
    kaggle = build_kaggle_datalists(root / "brain-tumor-mri-dataset", "binary", val_fraction, seed, max_per_class)
    lgg_items = lgg_slice_items(scan_lgg_folder(root / LGG_DIRNAME, lgg_slices.max_patients), lgg_slices.sequences,
                                lgg_slices.min_area, lgg_slices.margin)
    lgg = lgg_fold_datalists(lgg_items, fold, n_folds, val_fraction, seed)
    ixi = _ixi_splits(ixi_volumes(root / IXI_DIRNAME), fold, n_folds, val_fraction, seed)
    for name, splits in (("kaggle", kaggle), ("lgg", lgg)):
        for split in splits.values():
            for it in split:
                it["source"] = name
    logger.info("fold %d/%d: LGG patients train/val/test %s, IXI subjects %s", fold, n_folds,
                [len({it["group"] for it in lgg[s]}) for s in ("training", "validation", "testing")],
                [len(ixi[s]) for s in ("training", "validation", "testing")])
    return {"kaggle": kaggle, "lgg": lgg, "ixi": ixi}


def source_balanced_sampler(
    datasets: Mapping[str, Dataset], shares: Mapping[str, float], num_samples: int
) -> WeightedRandomSampler:
    """Sampler over ``ConcatDataset(list(datasets.values()))`` that draws each source with its share of the epoch.

    Why: the sources differ in size by an order of magnitude, and the small ones (patients with tumour and
    tumour-free slices of the same scan) carry the signal that matters; sampling by share keeps each source's weight
    fixed whatever its size. Empty datasets and sources without a share get none; the shares of the others are
    normalised to 1. Draws are with replacement, from torch's global generator (seeded by ``set_determinism``).
    """
    weights = []
    active = {k: float(shares.get(k, 0.0)) for k, ds in datasets.items() if len(ds) and shares.get(k, 0.0) > 0}
    if not active:
        raise ValueError(f"no source with data and a positive share (sizes { {k: len(d) for k, d in datasets.items()} }, "
                         f"shares {dict(shares)})")
    total = sum(active.values())
    for name, ds in datasets.items():
        w = active.get(name, 0.0) / total / max(len(ds), 1)
        weights.append(torch.full((len(ds),), w, dtype=torch.float64))
    return WeightedRandomSampler(torch.cat(weights), num_samples=int(num_samples), replacement=True)
