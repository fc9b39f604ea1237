"""The JSON API without a browser (FastAPI's TestClient): health, model card, predictions on a real image, a real
zipped DICOM series and a real NIfTI volume, and the refusals (bad file, oversized upload, zip traversal), with
every request's temporary folder gone afterwards."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import monai_tumorcls
from monai_tumorcls.app import UploadLimits, create_app
from tests.bundles.helpers import PROJECT_ROOT

NIFTI = "pyradiomics-tcga-gbm/converted_nifti/brain1_image.nii.gz"


@pytest.fixture()
def work(tmp_path):
    return tmp_path / "work"


@pytest.fixture()
def client(service, work):
    work.mkdir()
    app = create_app(service, UploadLimits(max_upload_bytes=2 << 20), work_root=work)
    return TestClient(app, base_url="http://127.0.0.1:8000")  # the app answers loopback Host headers only


@pytest.fixture()
def seen_work_folders(service, monkeypatch):
    """The temporary folders the service was given (to check they existed during, and are gone after, requests)."""
    seen, predict = [], service.predict

    def spy(path, work, display_name, kind):
        seen.append(work)
        assert path.is_relative_to(work) and path.exists()
        return predict(path, work, display_name, kind)

    monkeypatch.setattr(service, "predict", spy)
    return seen


def _post(client, name, data):
    return client.post("/predict", files={"file": (name, data)})


def test_health_model_card_and_local_page(client, tiny_checkpoint):
    assert client.get("/health").json() == {"status": "ok", "bundle": "resnet18_binary"}
    card = client.get("/model").json()
    assert card["class_names"] == ["notumor", "tumor"] and card["checkpoint"]["file"] == tiny_checkpoint.name
    assert card["metadata"]["intended_use"].startswith("Research only")
    sha = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    version = json.loads((PROJECT_ROOT / "bundles/resnet18_binary/configs/metadata.json").read_text())["version"]
    assert card["checkpoint"]["sha256"] == card["provenance"]["checkpoint_sha256"] == sha
    assert card["provenance"]["bundle"] == {"name": "resnet18_binary", "version": version}
    assert card["provenance"]["package_version"] == monai_tumorcls.__version__
    page = client.get("/").text
    assert "Research use only" in page and "http" not in page.replace('http-equiv', '')  # no external assets
    assert "http" not in client.get("/static/app.js").text.replace("http://www.w3.org/2000/svg", "")
    assert client.get("/docs").status_code == 404  # FastAPI's API pages load scripts from a CDN


@pytest.mark.integration
def test_predict_image_zip_and_nifti(client, work, seen_work_folders, kaggle_root, dicom_root, nifti_root):
    image = sorted((kaggle_root / "Testing" / "pituitary").iterdir())[0]
    answer = _post(client, image.name, image.read_bytes()).json()
    assert answer["kind"] == "image" and answer["decision"]["predicted_class"] in ("notumor", "tumor")
    assert sum(answer["decision"]["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert answer["overlay"].startswith("data:image/png;base64,") and answer["warnings"] == []

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted((dicom_root / "ge-epi-brain-small").iterdir()):
            zf.write(f, f"ge/{f.name}")
    answer = _post(client, "series.zip", buf.getvalue()).json()
    assert answer["kind"] == "volume" and len(answer["series"]) == 1 and not answer["errors"]
    series = answer["series"][0]
    assert series["modality"] == "MR" and series["n_slices"] == len(series["slices"]) == 37
    assert series["decision"]["predicted_class"] in ("notumor", "tumor")
    contributing = [s for s in series["slices"] if s["contributing"]]
    assert [s["index"] for s in contributing] == sorted(series["decision"]["contributing_slices"])
    assert all(s["overlay"] for s in contributing)
    assert not any(s["overlay"] for s in series["slices"] if not s["contributing"])
    assert all(s["image"] for s in series["slices"] if not s["excluded"])
    text = str(answer)
    assert "1.2.840" not in text.replace("1.2.840.10008", "")  # no instance UIDs in the JSON

    answer = _post(client, "brain.nii.gz", (nifti_root / NIFTI).read_bytes()).json()
    assert answer["kind"] == "volume" and answer["series"][0]["source"] == "nifti"
    assert answer["provenance"]["checkpoint_sha256"] == client.get("/model").json()["checkpoint"]["sha256"]
    probabilities = [s["tumour_probability"] for s in answer["series"][0]["slices"]]
    assert len(probabilities) == answer["series"][0]["n_slices"] and all(0 <= p <= 1 for p in probabilities)
    assert len(seen_work_folders) == 3 and not any(f.exists() for f in seen_work_folders)
    assert not list(work.iterdir())


def test_bad_files_get_the_readers_errors(client, work, seen_work_folders):
    response = _post(client, "scan.png", b"<html>not an image</html>")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("scan.png: not a PNG or JPEG file")
    response = _post(client, "vol.nii.gz", b"\x1f\x8b garbage")
    assert response.status_code == 400 and response.json()["detail"].startswith("vol.nii.gz: nothing classified (")
    response = _post(client, "notes.txt", b"hello")
    assert response.status_code == 400 and "notes.txt: unsupported file type" in response.json()["detail"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("series/readme.txt", "no images here")
    response = _post(client, "series.zip", buf.getvalue())
    assert response.status_code == 400 and response.json()["detail"] == "series.zip: no DICOM or NIfTI file in the zip"
    assert len(seen_work_folders) == 3 and not list(work.iterdir())


def _png(pixels) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def test_a_blank_image_gets_no_decision_and_a_tiny_one_a_caution(client, work, tiny_checkpoint):
    response = _post(client, "blank.png", _png(np.full((64, 64), 90, np.uint8)))
    assert response.status_code == 400 and response.json()["detail"] == "blank.png: blank image (one value): no decision"
    answer = _post(client, "tiny.png", _png(np.random.default_rng(0).integers(0, 255, (10, 12), dtype=np.uint8))).json()
    assert answer["kind"] == "image" and answer["warnings"] == ["tiny image (10x12 px, a side below 16)"]
    traced = answer["provenance"]  # every answer names the checkpoint and bundle that made it, and when
    assert traced["checkpoint_sha256"] == hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    assert traced["bundle"]["name"] == "resnet18_binary" and traced["created"].endswith("Z")
    assert not list(work.iterdir())


def test_refusals_before_any_classification(client, work, seen_work_folders):
    response = _post(client, "big.png", b"x" * (3 << 20))
    assert response.status_code == 413 and "too large" in response.json()["detail"]
    chunked = client.post("/predict", content=iter([b"x" * (1 << 20)] * 3),
                          headers={"content-type": "multipart/form-data; boundary=b"})
    assert chunked.status_code == 413  # no Content-Length: the body is cut off while it arrives
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escaped.dcm", b"DICM")
    response = _post(client, "evil.zip", buf.getvalue())
    assert response.status_code == 400
    assert response.json()["detail"].startswith("evil.zip: unsafe member path '../../escaped.dcm'")
    assert not list(work.parent.rglob("escaped.dcm"))
    assert client.post("/predict", data={"x": "1"}).json()["detail"].startswith("no file uploaded")
    two = client.post("/predict", files=[("file", ("a.png", b"a")), ("file", ("b.png", b"b"))])
    assert two.status_code == 400 and "Too many files" in two.json()["detail"]
    assert not seen_work_folders and not list(work.iterdir())
