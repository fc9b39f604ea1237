"""DICOM results (``--dicom_results true``): the bundle's inference on the real GE series writes a Comprehensive SR
and a Secondary Capture series of the Grad-CAM overlays, read back here with pydicom and highdicom: they belong to
the source study and patient, reference the contributing slices' instances, and hold the CLI's decision; the JSON,
CSV and log stay free of UIDs and patient identification."""

from __future__ import annotations

import json

import highdicom as hd
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from monai_tumorcls.data.datalist import file_sha256
from monai_tumorcls.apps.clinical import with_dicom_results
from monai_tumorcls.networks import ResNetClassifier
from tests.bundles.helpers import PROJECT_ROOT, check, run_bundle

CFG = "bundles/resnet18_binary/configs/inference.json"


@pytest.mark.integration
def test_dicom_results_of_a_real_series(dicom_root, tmp_path):
    torch.manual_seed(0)
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), tmp_path / "tiny.pt")
    source = dicom_root / "ge-epi-brain-small"
    out = tmp_path / "out"
    proc = check(run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(tmp_path / "tiny.pt"), input_dir=str(source),
                            output_dir=str(out), train_overrides="{'image_size': 64}", dicom_results="true"))
    report = json.loads((out / "clinical.json").read_text())
    series = report["series"][0]
    decision, sid = series["decision"], series["series_id"]
    sources = {p: pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(source.iterdir())}
    by_file_id = {"f-" + file_sha256(p)[:16]: ds for p, ds in sources.items()}
    slices = {s["slice_index"]: s for s in series["slices"]}
    contributing = {k: by_file_id[slices[k]["source_file_id"]] for k in decision["contributing_slices"]}
    first = next(iter(sources.values()))

    sr = hd.sr.ComprehensiveSR.from_dataset(pydicom.dcmread(out / "dicom_results" / f"{sid}_sr.dcm"))
    for tag in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
                "AccessionNumber"):
        assert sr.get(tag) == first.get(tag), tag
    assert sr.SeriesInstanceUID != first.SeriesInstanceUID and sr.Modality == "SR"
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == first.SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in evidence.ReferencedSOPSequence} == {
        ds.SOPInstanceUID for ds in contributing.values()}
    items = {i.ConceptNameCodeSequence[0].CodeMeaning: i for i in sr.ContentSequence}
    assert items["Finding"].ConceptCodeSequence[0].CodeValue == decision["predicted_class"]
    traced = report["provenance"]  # the SR names what the report names: this checkpoint, bundle and run
    version = json.loads((PROJECT_ROOT / "bundles/resnet18_binary/configs/metadata.json").read_text())["version"]
    assert traced["checkpoint_sha256"] == file_sha256(tmp_path / "tiny.pt")
    assert traced["bundle"] == {"name": "resnet18_binary", "version": version}
    assert {name: items[name].TextValue for name in ("Algorithm Version", "Bundle name", "Bundle version",
                                                     "Checkpoint SHA-256", "Results created (UTC)")} == {
        "Algorithm Version": traced["package_version"], "Bundle name": "resnet18_binary", "Bundle version": version,
        "Checkpoint SHA-256": traced["checkpoint_sha256"], "Results created (UTC)": traced["created"]}
    assert sr.SoftwareVersions == f"monai-tumorcls {traced['package_version']}"
    for c, p in decision["class_probabilities"].items():
        value = items[f"Probability of class {c}"].MeasuredValueSequence[0].NumericValue
        assert float(value) == pytest.approx(p, abs=1e-6)
    images = [i for i in sr.ContentSequence if i.ValueType == "IMAGE"]
    assert {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in images} == {
        ds.SOPInstanceUID for ds in contributing.values()}

    captures = sorted((out / "dicom_results").glob(f"{sid}_sc_*.dcm"))
    assert len(captures) == len(contributing)
    sc_series = {pydicom.dcmread(p).SeriesInstanceUID for p in captures}
    assert len(sc_series) == 1 and sc_series != {first.SeriesInstanceUID, sr.SeriesInstanceUID}
    for path, (k, ds) in zip(captures, sorted(contributing.items())):
        sc = pydicom.dcmread(path)
        assert sc.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
        for tag in ("StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate"):
            assert sc.get(tag) == first.get(tag), tag
        assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
        assert sc.SoftwareVersions == sr.SoftwareVersions
        overlay = np.asarray(Image.open(out / slices[k]["saliency_file"]).convert("RGB"))
        np.testing.assert_array_equal(sc.pixel_array, overlay)

    written = (out / "clinical.json").read_text() + (out / "clinical.csv").read_text() + proc.stdout + proc.stderr
    identifiers = {str(v) for ds in sources.values() for v in (ds.StudyInstanceUID, ds.SeriesInstanceUID,
                   ds.SOPInstanceUID, ds.PatientID, ds.PatientName) if str(v)} | {sr.SOPInstanceUID, *sc_series}
    assert not [i for i in identifiers if i in written]


@pytest.mark.integration
def test_dicom_results_of_a_series_resliced_to_axial(dicom_root, tmp_path):
    """The Siemens series is sagittal: every axial slice is cut from all its files, so the SR's evidence and each
    secondary capture's source references name all instances of the source series."""
    torch.manual_seed(0)
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), tmp_path / "tiny.pt")
    source = dicom_root / "siemens-trio-b17-t1-mprage-brain"
    out = tmp_path / "out"
    check(run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(tmp_path / "tiny.pt"), input_dir=str(source),
                     output_dir=str(out), train_overrides="{'image_size': 64}", dicom_results="true"))
    series = json.loads((out / "clinical.json").read_text())["series"][0]
    assert "resliced" in " ".join(series.get("notes", [])) or series.get("resliced")
    instances = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in source.rglob("*") if p.is_file()
                 and not p.name.endswith((".md", ".txt"))}
    sr = pydicom.dcmread(out / "dicom_results" / f"{series['series_id']}_sr.dcm")
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert {i.ReferencedSOPInstanceUID for i in evidence.ReferencedSOPSequence} == instances
    captures = sorted((out / "dicom_results").glob(f"{series['series_id']}_sc_*.dcm"))
    assert len(captures) == len(series["decision"]["contributing_slices"]) > 0
    for path in captures:
        assert {r.ReferencedSOPInstanceUID for r in pydicom.dcmread(path).SourceImageSequence} == instances


def test_dicom_results_option_as_the_command_line_gives_it(tmp_path):
    calls = []

    def clinical_run(**kwargs):
        calls.append(kwargs)
        return type("Result", (), {"series": []})()

    for off in (False, "false", "False", "0"):
        assert with_dicom_results(clinical_run, [], tmp_path, off) is clinical_run
    with_dicom_results(clinical_run, [], tmp_path, "true")()
    assert calls == [{"saliency": True}]  # the secondary captures need the overlays
