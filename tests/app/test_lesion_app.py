"""The app with a lesion network (the ``resnet18_lesion`` bundle, random seeded weights at 64 px): the answer of a
volume carries the predicted lesion and the "not validated on volumes" warning, overlays show the lesion map, and
``GET /model`` gives the checkpoint's validation record (None without one)."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from monai_tumorcls.app import BundleService, UploadLimits, create_app
from monai_tumorcls.apps.clinical.model_validation import NOT_VALIDATED_ON_VOLUMES
from monai_tumorcls.networks import LesionClassifier
from tests.bundles.helpers import PROJECT_ROOT
from tests.inference import synthetic_inputs as syn


@pytest.fixture(scope="module")
def lesion_service(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lesion_model") / "tiny.pt"
    torch.save(LesionClassifier("resnet18", num_classes=2).state_dict(), path)
    return BundleService(PROJECT_ROOT / "bundles/resnet18_lesion", path, {"train_overrides": {"image_size": 64}})


def test_a_volume_answer_carries_the_lesion_and_the_validation_warning(lesion_service, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    client = TestClient(create_app(lesion_service, UploadLimits(max_upload_bytes=2 << 20), work_root=work),
                        base_url="http://127.0.0.1:8000")
    card = client.get("/model").json()
    assert card["validation"] is None  # a state-dict checkpoint has no metadata
    nifti = syn.write_nifti(tmp_path / "t1.nii.gz", "LPS")
    answer = client.post("/predict", files={"file": ("t1.nii.gz", nifti.read_bytes())}).json()
    assert answer["saliency_map"] == "lesion"
    (series,) = answer["series"]
    assert series["warnings"] == [NOT_VALIDATED_ON_VOLUMES]
    assert set(series["lesion"]) >= {"volume_ml", "slice_range", "peak", "n_voxels"}
    assert all("lesion_area_px" in s for s in series["slices"])
    assert any(s["overlay"] for s in series["slices"])


def test_the_model_card_gives_the_validation_record(lesion_service, monkeypatch):
    record = {"trained_on": ["kaggle"], "volumes_validated": False, "summary": "slices only", "held_out": {},
              "source": "docs/reports/external_validation.md"}
    monkeypatch.setattr(lesion_service, "checkpoint_metadata", {"validation": record})
    assert lesion_service.model_card()["validation"] == record
