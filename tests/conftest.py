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


#: the test files that take longest (bundle trainings, the installed wheel, fresh interpreters), longest first. They
#: are handed out first, so that the two xdist workers of `make test` (`--dist loadfile --no-loadscope-reorder`) end
#: together instead of one working alone through a long file at the end; every other file keeps its order.
SLOW_FILES_FIRST = (
    "tests/packaging/test_packaging.py",
    "tests/bundles/test_resnet18_binary.py",
    "tests/bundles/test_bundle_smoke.py",
    "tests/sweep/test_sweep.py",
    "tests/test_moved_names.py",
    "tests/bundles/test_resnet18_multisource.py",
    "tests/bundles/test_multi_gpu_train.py",
    "tests/bundles/test_resume.py",
    "tests/handlers/test_distributed.py",
    "tests/fuzz/test_fuzz_inputs.py",
    "tests/security/test_inputs.py",
    "tests/bundles/test_resnet18_lesion.py",
    "tests/security/test_checkpoints.py",
    "tests/app/test_browser.py",
    "tests/export/test_export.py",
    "tests/packaging/test_verify_metadata.py",
    "tests/bundles/test_checkpoint_metadata.py",
    "tests/inference/test_dicom_results.py",
    "tests/bundles/test_ssl_simclr.py",
    "tests/bundles/test_inference_could_not_start.py",
)


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order
