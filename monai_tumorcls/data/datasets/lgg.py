"""The LGG Segmentation Dataset (TCGA-LGG, Buda et al. 2019, "kaggle_3m") as slice datalists with patient splits.

Layout: ``<root>/<patient>/<patient>_<n>.tif`` (256x256x3 uint8; channels = pre-contrast T1, FLAIR, post-contrast
T1; a missing sequence was replaced by FLAIR upstream) and ``<patient>_<n>_mask.tif`` (manual FLAIR-abnormality
mask, 0/255), ``n`` = 1-based slice number. Patient folders are ``TCGA_<site>_<id>_<date>``: ``site`` is the
contributing institution (CS, DU, EZ, FG, HT), the stratum of every split.

**One item per slice and sequence**: ``{"image": tif path, "channel": 0|1|2, "sequence": name, "mask": mask path,
"label", "class_name", "group": patient, "site", "slice_index" (0-based), "n_slices", "tumour_area"}``. The image
is loaded as one greyscale channel (:class:`~monai_tumorcls.transforms.SelectChanneld` with ``channel``).

**Slice label rule** (:func:`~monai_tumorcls.data.volume_slices.flags_from_areas`, the rule used for every volume):
a slice whose mask has at least ``min_area`` pixels is a tumour slice; a slice with a smaller, non-empty mask (the
tumour's tip, too small to see at the classifier's resolution) and a mask-free slice within ``margin`` slices of a
slice with any mask (partial volume at the tumour's upper and lower edge) are *edge* slices, left out of training
and of every metric (counted in the datalist summary); every other slice is tumour-free.

**Splits are by patient**: :func:`patient_folds` deals the patients of each site round-robin into ``n_folds`` folds
after a seeded shuffle, so every fold holds a share of every site; :func:`lgg_fold_datalists` takes one fold as
the test set and a site-stratified share of the other patients as validation. No patient is ever in two splits.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from ..datalist import stratified_split
from ..readers.errors import ImageReadError
from ..volume_slices import flags_from_areas
from .kaggle import BINARY_CLASSES

logger = logging.getLogger(__name__)

__all__ = [
    "LGG_DIRNAME",
    "LGG_SEQUENCES",
    "lgg_patient_site",
    "scan_lgg_folder",
    "lgg_slice_items",
    "patient_folds",
    "lgg_fold_datalists",
]

#: folder below the data root that holds the patient folders
LGG_DIRNAME = "lgg-mri-segmentation/kaggle_3m"
#: sequence name -> channel of the TIFF
LGG_SEQUENCES: dict[str, int] = {"pre_contrast_t1": 0, "flair": 1, "post_contrast_t1": 2}

_PATIENT = re.compile(r"^TCGA_([A-Z0-9]+)_[A-Z0-9]+_\d{8}$")
_SLICE = re.compile(r"^(?P<patient>.+)_(?P<n>\d+)\.tif$")


def lgg_patient_site(patient: str) -> str:
    """The site code of a ``TCGA_<site>_<id>_<date>`` patient folder name.

    Raises:
        ValueError: the name does not follow that pattern.
    """
    m = _PATIENT.match(patient)
    if not m:
        raise ValueError(f"{patient}: not an LGG patient folder name (expected TCGA_<site>_<id>_<yyyymmdd>)")
    return m.group(1)


def _mask_area(path: Path) -> int:
    import tifffile

    try:
        mask = tifffile.imread(path)
    except Exception as e:  # tifffile raises several types for damaged files
        raise ImageReadError(path, f"unreadable mask ({type(e).__name__}: {e})") from e
    if mask.ndim != 2:
        raise ImageReadError(path, f"mask of shape {mask.shape}, expected a 2D image")
    return int(np.count_nonzero(mask))


def _patient_slices(folder: Path) -> list[dict]:
    site = lgg_patient_site(folder.name)
    numbered = {}
    for f in folder.iterdir():
        m = _SLICE.match(f.name)
        if m and not f.name.endswith("_mask.tif"):
            if m.group("patient") != folder.name:
                raise ValueError(f"{f}: slice of patient {m.group('patient')} in the folder of {folder.name}")
            numbered[int(m.group("n"))] = f
    if not numbered:
        raise ValueError(f"{folder}: patient folder holds no <patient>_<n>.tif slice")
    numbers = sorted(numbered)
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"{folder}: slice numbers are not 1..{len(numbers)} (found {numbers[0]}..{numbers[-1]})")
    out = []
    for k, n in enumerate(numbers):
        mask = numbered[n].with_name(f"{folder.name}_{n}_mask.tif")
        if not mask.is_file():
            raise FileNotFoundError(f"{mask}: mask of {numbered[n].name} is missing")
        out.append(dict(image=str(numbered[n].resolve()), mask=str(mask.resolve()), group=folder.name, site=site,
                            slice_index=k, n_slices=len(numbers), tumour_area=_mask_area(mask)))
    return out


def scan_lgg_folder(root: str | PathLike, max_patients: int | None = None) -> list[dict]:
    """Every slice of every patient folder below ``root`` (patients sorted by name, slices by number): dicts with
    ``image``, ``mask``, ``group`` (patient), ``site``, ``slice_index`` (0-based), ``n_slices``, ``tumour_area``.

    Args:
        root: the ``kaggle_3m`` folder.
        max_patients: if set, only the first this many patients (smoke runs).

    Raises:
        FileNotFoundError: ``root`` or a mask is missing.
        ValueError: a patient folder is misnamed, empty, has gaps in its numbering or slices of another patient.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: LGG folder not found (expected <patient>/<patient>_<n>.tif; see docs/data.md)")
    patients = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not patients:
        raise ValueError(f"{root}: no patient folder")
    return [s for p in patients[:max_patients] for s in _patient_slices(p)]


def lgg_slice_items(
    slices: Sequence[dict],
    sequences: Sequence[str] = tuple(LGG_SEQUENCES),
    min_area: int = 64,
    margin: int = 1,
    class_names: Sequence[str] = BINARY_CLASSES,
) -> list[dict]:
    """Labelled datalist items, one per kept slice and sequence (edge slices left out; see the module doc).

    Args:
        slices: from :func:`scan_lgg_folder`.
        sequences: names from :data:`LGG_SEQUENCES`.
        min_area: mask pixels (at 256x256) that make a tumour slice.
        margin: mask-free slices this close to a slice with any mask are edge slices.
        class_names: ``(no tumour, tumour)`` class names; label = index.
    """
    unknown = [s for s in sequences if s not in LGG_SEQUENCES]
    if unknown:
        raise ValueError(f"unknown LGG sequences {unknown}; choose from {list(LGG_SEQUENCES)}")
    by_patient: dict[str, list[dict]] = defaultdict(list)
    for s in slices:
        by_patient[s["group"]].append(s)
    items, n_edge = [], 0
    for patient_slices in by_patient.values():
        flags = flags_from_areas([s["tumour_area"] for s in patient_slices], min_area, margin)
        n_edge += int((flags < 0).sum())
        for s, flag in zip(patient_slices, flags):
            if flag < 0:
                continue
            for seq in sequences:
                items.append({**s, "channel": LGG_SEQUENCES[seq], "sequence": seq, "label": int(flag),
                              "class_name": class_names[int(flag)]})
    logger.info("LGG slices: %d patients, %d items (%s), %d edge slices left out", len(by_patient), len(items),
                "/".join(sequences), n_edge)
    return items


def patient_folds(groups: Iterable[tuple[str, str]], n_folds: int, seed: int = 0) -> dict[str, int]:
    """Fold of each group, stratified by site.

    Args:
        groups: ``(group, site)`` pairs (repeats are ignored).
        n_folds: number of folds (>= 2).
        seed: seed of the shuffle within each site.

    Returns:
        ``{group: fold}``; within each site the folds differ in size by at most one, and the site order rotates the
        starting fold so that the folds stay balanced overall.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    by_site: dict[str, list[str]] = defaultdict(list)
    for group, site in dict(groups).items():
        by_site[site].append(group)
    rng = random.Random(seed)
    fold_of, start = {}, 0
    for site in sorted(by_site):
        members = sorted(by_site[site])
        rng.shuffle(members)
        for i, g in enumerate(members):
            fold_of[g] = (start + i) % n_folds
        start = (start + len(members)) % n_folds
    return fold_of


def lgg_fold_datalists(
    items: Sequence[dict], fold: int, n_folds: int = 5, val_fraction: float = 0.15, seed: int = 0
) -> dict[str, list[dict]]:
    """Training / validation / testing items of one patient fold.

    Args:
        items: items carrying ``group`` and ``site`` (e.g. :func:`lgg_slice_items`).
        fold: the test fold, ``0 <= fold < n_folds``.
        n_folds: see :func:`patient_folds`.
        val_fraction: share of the remaining items (whole patients, per site) held out for validation.
        seed: seed of the folds and of the validation split.
    """
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in [0, {n_folds}), got {fold}")
    fold_of = patient_folds(((it["group"], it["site"]) for it in items), n_folds, seed)
    test = [it for it in items if fold_of[it["group"]] == fold]
    rest = [it for it in items if fold_of[it["group"]] != fold]
    train, val = stratified_split(rest, val_fraction, seed, strata_key="site", group_key="group")
    return {"training": train, "validation": val, "testing": test}
