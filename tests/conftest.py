"""Shared fixtures. Integration tests read the real data under MONAI_DATA_DIRECTORY (default ../shared/data)
and fail loudly, never skip, when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monai_tumorcls.config import DATA_ENV_VAR, get_data_root

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = get_data_root()
    if not root.is_dir():
        pytest.fail(f"integration data missing: {root} does not exist (set {DATA_ENV_VAR})")
    return root


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"integration data missing: {path} (set {DATA_ENV_VAR} to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def kaggle_root(data_root) -> Path:
    return _require(data_root / "brain-tumor-mri-dataset")


@pytest.fixture(scope="session")
def dicom_root(data_root) -> Path:
    return _require(data_root / "dicom")


@pytest.fixture(scope="session")
def nifti_root(data_root) -> Path:
    return _require(data_root / "nifti")
