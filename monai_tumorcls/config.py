"""Locations the package reads from: the data root (MONAI convention) and the dataset folders below it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["get_data_root", "get_kaggle_root", "get_brats2015_root", "DATA_ENV_VAR", "KAGGLE_DIRNAME", "BRATS2015_DIRNAME"]

DATA_ENV_VAR = "MONAI_DATA_DIRECTORY"
KAGGLE_DIRNAME = "brain-tumor-mri-dataset"
BRATS2015_DIRNAME = "brain-tumor-brats2015"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def get_data_root(must_exist: bool = False) -> Path:
    """Return the data root.

    ``$MONAI_DATA_DIRECTORY`` when set, else ``../shared/data`` beside the project checkout
    (the layout this project is developed and tested in).

    Args:
        must_exist: raise ``FileNotFoundError`` naming the path and the variable when the folder is absent.
    """
    env = os.environ.get(DATA_ENV_VAR)
    root = Path(env).expanduser() if env else _PROJECT_ROOT.parent / "shared" / "data"
    if must_exist and not root.is_dir():
        raise FileNotFoundError(
            f"data root {str(root)!r} does not exist; set {DATA_ENV_VAR} to the folder that holds "
            f"{KAGGLE_DIRNAME}/ (see docs/data.md)"
        )
    return root


def get_kaggle_root(must_exist: bool = True) -> Path:
    """Return ``<data root>/brain-tumor-mri-dataset`` (holding ``Training/`` and ``Testing/``)."""
    return _dataset_root(KAGGLE_DIRNAME, must_exist, lambda root: (root / "Training").is_dir(),
                         "Kaggle Brain Tumor MRI Dataset not found at {root!r} (expected Training/ and Testing/ "
                         "class folders)")


def get_brats2015_root(must_exist: bool = True) -> Path:
    """Return ``<data root>/brain-tumor-brats2015`` (the BraTS-2015-derived slices of pipeline 3)."""
    return _dataset_root(BRATS2015_DIRNAME, must_exist, lambda root: (root / "Brain Tumor.csv").is_file(),
                         "BraTS-2015-derived 'Brain Tumor' set not found at {root!r} (expected 'Brain Tumor.csv' and "
                         "'Brain Tumor/Brain Tumor/')")


def _dataset_root(dirname: str, must_exist: bool, present: Callable[[Path], bool], missing: str) -> Path:
    """``<data root>/<dirname>``; with ``must_exist``, ``FileNotFoundError`` unless ``present(root)``: the
    ``missing`` message (``{root}`` filled in) and where to point the data root."""
    root = get_data_root() / dirname
    if must_exist and not present(root):
        raise FileNotFoundError(missing.format(root=str(root)) + f"; set {DATA_ENV_VAR} (see docs/data.md)")
    return root
