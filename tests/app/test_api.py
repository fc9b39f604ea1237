"""The JSON API without a browser (FastAPI's TestClient): health, model card, predictions on a real image, a real
zipped DICOM series and a real NIfTI volume, the viewer's slices and maps of a classified study (and the refusals of
bad ids, the bound on the study store), and the refusals (bad file, oversized upload, zip traversal), with every
request's temporary folder gone afterwards."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import monai_tumorcls
from monai_tumorcls.app import UploadLimits, create_app
from monai_tumorcls.app.studies import SeriesSlices, StoreLimits, StudyLookupError, StudyStore
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
    for script in ("app.js", "viewer.js", "plot.js", "colourbar.js", "modelcard.js"):
        assert "http" not in client.get(f"/static/{script}").text.replace("http://www.w3.org/2000/svg", "")
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
    description = pydicom.dcmread(sorted((dicom_root / "ge-epi-brain-small").iterdir())[0]).SeriesDescription
    assert series["description"] == description  # the series list's name, kept out of the CLI's reports
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


def _array(response) -> np.ndarray:
    rows, cols = map(int, response.headers["x-shape"].split(","))
    return np.frombuffer(response.content, "<f4").reshape(rows, cols)


@pytest.mark.integration
def test_the_viewer_gets_each_slice_at_source_resolution_and_its_map(client, nifti_root):
    answer = _post(client, "brain.nii.gz", (nifti_root / NIFTI).read_bytes()).json()
    (series,) = answer["series"]
    assert series["description"] == "brain.nii.gz" and series["slice_plane"] == "axial"
    assert series["display_edges"] == {"top": "A", "bottom": "P", "left": "R", "right": "L"}  # radiological
    base = f"/studies/{answer['study_id']}"
    k = series["decision"]["contributing_slices"][0]
    shown = series["slices"][k]
    assert shown["source_shape"] == [256, 256] and shown["has_map"]  # the volume's grid, not the network's 64 px
    image = _array(client.get(f"{base}/slices/{series['series_id']}/{k}"))
    assert image.shape == (256, 256) and image.max() > 1  # original intensities, not the network's input
    saliency = _array(client.get(f"{base}/maps/{series['series_id']}/{k}"))
    assert saliency.shape == image.shape and 0 <= saliency.min() and saliency.max() <= 1
    plain = next(s["index"] for s in series["slices"] if not s["has_map"] and s["source_shape"])
    assert client.get(f"{base}/slices/{series['series_id']}/{plain}").status_code == 200
    refused = {
        f"/studies/not-an-id/slices/{series['series_id']}/{k}": (404, "no such study (malformed id)"),
        f"/studies/{'0' * 32}/slices/{series['series_id']}/{k}": (404, "no such study (unknown"),
        f"{base}/slices/s-000000000000/{k}": (404, "no such series in this study"),
        f"{base}/slices/{series['series_id']}/{series['n_slices']}": (404, f"no slice {series['n_slices']}"),
        f"{base}/slices/{series['series_id']}/-1": (400, "slice index must be a non-negative integer"),
        f"{base}/slices/{series['series_id']}/..%2F..%2Fetc": (404, "Not Found"),  # no route: never a path
        f"{base}/maps/{series['series_id']}/{plain}": (404, f"slice {plain} has no map (not a contributing slice)"),
    }
    for url, (status, detail) in refused.items():
        response = client.get(url)
        assert response.status_code == status and response.json()["detail"].startswith(detail), url


def test_the_study_store_is_bounded_in_studies_and_bytes():
    def study(n_bytes: int) -> dict:
        return {"v-1": SeriesSlices(1, {0: np.zeros(n_bytes // 4, np.float32).reshape(1, -1)})}

    store = StudyStore(StoreLimits(max_studies=2, max_bytes=1000))
    first, second = store.add(study(400)), store.add(study(400))
    store.series(first, "v-1")  # now the most recently used: the next one drops the second
    third = store.add(study(400))
    assert len(store) == 2 and store.nbytes == 800
    with pytest.raises(StudyLookupError, match="dropped"):
        store.series(second, "v-1")
    fourth = store.add(study(800))  # over the byte budget with any other: alone
    assert len(store) == 1 and store.nbytes == 800 and store.series(fourth, "v-1").n_slices == 1
    for dropped in (first, third):
        with pytest.raises(StudyLookupError):
            store.series(dropped, "v-1")
    assert store.add(study(1200)) is None and len(store) == 1  # larger than the whole budget: not kept


@pytest.mark.integration
def test_a_dropped_study_is_gone_from_the_api(client, service, monkeypatch, nifti_root):
    monkeypatch.setattr(service, "studies", StudyStore(StoreLimits(max_studies=1)))
    data = (nifti_root / NIFTI).read_bytes()
    first, second = (_post(client, "brain.nii.gz", data).json() for _ in range(2))
    sid, k = first["series"][0]["series_id"], first["series"][0]["decision"]["contributing_slices"][0]
    response = client.get(f"/studies/{first['study_id']}/slices/{sid}/{k}")
    assert response.status_code == 404 and "dropped" in response.json()["detail"]
    assert client.get(f"/studies/{second['study_id']}/slices/{sid}/{k}").status_code == 200


def _decisions(answer: dict) -> list:
    """What an answer decided: the image's probabilities, or each series' decision and slice probabilities."""
    if answer["kind"] == "image":
        return [answer["decision"]["probabilities"]]
    return [(s["decision"]["label"], s["decision"]["tumour_probability"], [x["tumour_probability"] for x in s["slices"]])
            for s in answer["series"]]


def test_concurrent_studies_share_the_one_loaded_model(client, service, monkeypatch, kaggle_root, nifti_root):
    """Studies posted at the same time each get the answer they get alone, from the network loaded at start: no
    request loads the checkpoint again."""
    from concurrent.futures import ThreadPoolExecutor

    import monai_tumorcls.checkpoint

    image = sorted((kaggle_root / "Testing" / "glioma").iterdir())[0]
    uploads = [(image.name, image.read_bytes()), ("brain.nii.gz", (nifti_root / NIFTI).read_bytes())] * 2
    alone = [_decisions(_post(client, name, data).json()) for name, data in uploads[:2]]
    network = service.network

    def no_second_load(*args, **kwargs):
        raise AssertionError("a request loaded the checkpoint again")

    monkeypatch.setattr(monai_tumorcls.checkpoint, "load_checkpoint", no_second_load)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda u: _post(client, *u), uploads))
    assert [a.status_code for a in answers] == [200] * 4
    for k, answer in enumerate(answers):
        got, want = _decisions(answer.json()), alone[k % 2]
        assert len(got) == len(want) == 1
        if isinstance(want[0], dict):  # the image
            assert got[0] == pytest.approx(want[0], abs=1e-5)
            continue
        (label, p, slices), (want_label, want_p, want_slices) = got[0], want[0]
        assert label == want_label and p == pytest.approx(want_p, abs=1e-5)
        assert np.allclose(np.array(slices, dtype=float), np.array(want_slices, dtype=float), atol=1e-5, equal_nan=True)
    assert service.network is network
