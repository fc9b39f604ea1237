"""DICOM results (``--dicom_results true``): the bundle's inference on the real GE series writes a Comprehensive SR
(TID 1500) and a Secondary Capture series of the Grad-CAM overlays at the source resolution, read back here with
pydicom and highdicom and checked by a second reader (dcmtk's dsrdump, dicom3tools' dciodvfy): they belong to the
source study and patient, reference only the contributing slices' instances (also for a resliced series), and hold
the CLI's decision; the JSON, CSV and log stay free of UIDs and patient identification."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from monai_tumorcls.data.datalist import file_sha256
from monai_tumorcls.apps.clinical import dicom_results, dicom_sources, run_clinical_inference, with_dicom_results
from monai_tumorcls.networks import ResNetClassifier
from tests.bundles.helpers import PROJECT_ROOT, check, run_bundle
from tests.inference import synthetic_inputs as syn
from tests.inference import synthetic_networks as nets
from tests.inference.dicom_checks import dciodvfy_report, dsrdump_errors, sr_items

CFG = "bundles/resnet18_binary/configs/inference.json"


@pytest.mark.integration
def test_dicom_results_of_a_real_series(dicom_root, tmp_path):
    torch.manual_seed(0)
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), tmp_path / "tiny.pt")
    source = dicom_root / "ge-epi-brain-small"
    out = tmp_path / "out"
    proc = check(run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(tmp_path / "tiny.pt"), input_dir=str(source),
                            output_dir=str(out), train_overrides="{'image_size': 32}", dicom_results="true"))
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
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.ContentTemplateSequence[0].MappingResource == "DCMR"
    assert sr.SeriesDescription == "Tumour classification report (research use only)"
    items = {name: found[0] for name, found in sr_items(sr).items()}
    finding = items["Finding"].ConceptCodeSequence[0]  # the group's finding type
    assert (finding.CodingSchemeDesignator, finding.CodeValue) == ("SCT", "108369006")  # Neoplasm
    presence = items["Neoplasm"].ConceptCodeSequence[0]
    assert (presence.CodingSchemeDesignator, presence.CodeValue) == (
        ("SCT", "52101004") if decision["is_tumour"] else ("SCT", "272519000"))  # Present / Absent
    assert items["Finding Site"].ConceptCodeSequence[0].CodeValue == "12738006"  # Brain
    assert items["Predicted class"].ConceptCodeSequence[0].CodeValue == decision["predicted_class"]
    traced = report["provenance"]  # the SR names what the report names: this checkpoint, bundle and run
    version = json.loads((PROJECT_ROOT / "bundles/resnet18_binary/configs/metadata.json").read_text())["version"]
    assert traced["checkpoint_sha256"] == file_sha256(tmp_path / "tiny.pt")
    assert traced["bundle"] == {"name": "resnet18_binary", "version": version}
    assert {name: items[name].TextValue for name in ("Algorithm Version", "Bundle name", "Bundle version",
                                                     "Checkpoint SHA-256", "Results created (UTC)")} == {
        "Algorithm Version": traced["package_version"], "Bundle name": "resnet18_binary", "Bundle version": version,
        "Checkpoint SHA-256": traced["checkpoint_sha256"], "Results created (UTC)": traced["created"]}
    assert items["Algorithm Name"].TextValue == "monai-tumorcls"  # the TID 4019 identification of the group
    assert items["Algorithm Parameters"].TextValue == f"checkpoint_sha256={traced['checkpoint_sha256']}"
    assert sr.SoftwareVersions == f"monai-tumorcls {traced['package_version']}"
    for c, p in decision["class_probabilities"].items():
        value = items[f"Probability of class {c}"].MeasuredValueSequence[0].NumericValue
        assert float(value) == pytest.approx(p, abs=1e-6)
    images = sr_items(sr)["Source of Measurement"]
    assert {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in images} == {
        ds.SOPInstanceUID for ds in contributing.values()}
    library = [i for i in sr_items(sr)["Source"] if i.ValueType == "IMAGE"]  # TID 1600 image library
    assert {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in library} == {
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
        assert overlay.shape[:2] == (32, 32)  # the run's PNG: the network's input size
        assert (sc.Rows, sc.Columns) == (ds.Rows, ds.Columns) != (32, 32)  # the capture: the source's size
        assert sc.BurnedInAnnotation == "YES" and sc.SeriesDescription.startswith("Grad-CAM")
    _second_reader(out / "dicom_results" / f"{sid}_sr.dcm", captures[0])

    written = (out / "clinical.json").read_text() + (out / "clinical.csv").read_text() + proc.stdout + proc.stderr
    identifiers = {str(v) for ds in sources.values() for v in (ds.StudyInstanceUID, ds.SeriesInstanceUID,
                   ds.SOPInstanceUID, ds.PatientID, ds.PatientName) if str(v)} | {sr.SOPInstanceUID, *sc_series}
    assert not [i for i in identifiers if i in written]


def _second_reader(sr_path, sc_path):
    """dcmtk reads the SR without errors; dciodvfy finds no error in the SR and the capture."""
    assert dsrdump_errors(sr_path) == []
    for path in (sr_path, sc_path):
        errors, _ = dciodvfy_report(path)
        assert errors == [], (path.name, errors)


@pytest.mark.integration
def test_dicom_results_of_a_series_resliced_to_axial(dicom_root, tmp_path):
    """The Siemens series is sagittal: each axial slice takes a line of every sagittal image that spans its
    height, so the references name exactly those instances; the captures have the resliced volume's size."""
    torch.manual_seed(0)
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), tmp_path / "tiny.pt")
    source = dicom_root / "siemens-trio-b17-t1-mprage-brain"
    out = tmp_path / "out"
    check(run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(tmp_path / "tiny.pt"), input_dir=str(source),
                     output_dir=str(out), train_overrides="{'image_size': 64}", dicom_results="true"))
    series = json.loads((out / "clinical.json").read_text())["series"][0]
    assert series["resliced"] and series["slice_plane"] == "axial"
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in source.rglob("*") if p.is_file()
               and not p.name.endswith((".md", ".txt"))]
    slices = {s["slice_index"]: s for s in series["slices"]}
    captures = sorted((out / "dicom_results").glob(f"{series['series_id']}_sc_*.dcm"))
    assert len(captures) == len(series["decision"]["contributing_slices"]) > 0
    for path, k in zip(captures, sorted(series["decision"]["contributing_slices"])):
        sc = pydicom.dcmread(path)
        expected = {ds.SOPInstanceUID for ds in headers if _spans(ds, slices[k]["position_mm"])}
        assert expected and {r.ReferencedSOPInstanceUID for r in sc.SourceImageSequence} == expected
        assert [sc.Rows, sc.Columns] == series["volume_shape"][:2]
    _second_reader(out / "dicom_results" / f"{series['series_id']}_sr.dcm", captures[0])


def _spans(ds, s_mm: float) -> bool:
    """The image's pixel centres reach the height ``s_mm`` (S, mm) to within one pixel."""
    row, col = np.asarray(ds.ImageOrientationPatient[:3], float), np.asarray(ds.ImageOrientationPatient[3:], float)
    dr, dc = (float(v) for v in ds.PixelSpacing)
    z = [ds.ImagePositionPatient[2] + j * dc * row[2] + i * dr * col[2] for i in (0, ds.Rows - 1)
         for j in (0, ds.Columns - 1)]
    step = abs(dc * row[2]) + abs(dr * col[2])
    return min(z) - step <= s_mm <= max(z) + step


def test_resliced_slices_reference_only_the_images_crossing_them(tmp_path, monkeypatch):
    """A sagittal series with one image moved 20 pixels down (towards the feet): the axial slices of the planted
    lesion at the top no longer cross it, so neither the SR nor their captures reference it; a slice it still
    crosses does. Each image's header is read once for the references."""
    files = syn.write_series(tmp_path / "in", "sagittal")
    moved = pydicom.dcmread(files[5])
    moved.ImagePositionPatient[2] = float(moved.ImagePositionPatient[2]) - 20 * syn.SPACING
    moved.save_as(files[5])
    read = []

    def counted(paths):
        paths = list(paths)
        read.extend(paths)
        return real_read_headers(paths)

    real_read_headers = dicom_sources.read_headers
    monkeypatch.setattr(dicom_sources, "read_headers", counted)
    monkeypatch.setattr(dicom_results, "read_headers", counted)
    result = run_clinical_inference([tmp_path / "in"], nets.lesion_network(), nets.marker_preprocess(32),
                                    nets.CLASS_NAMES, tmp_path / "out", run_name="r", dicom_results=True)
    series = result.series[0]
    assert series.resliced and series.decision.contributing_slices
    assert all(series.slices[k].position_mm > -19.375 + 20 * syn.SPACING for k in series.decision.contributing_slices)
    results = tmp_path / "out" / "dicom_results"
    sr = pydicom.dcmread(results / f"{series.series_id}_sr.dcm")
    referenced = {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in sr_items(sr)["Source of Measurement"]}
    others = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files} - {moved.SOPInstanceUID}
    assert referenced == others
    resolved = sorted(str(Path(p).resolve()) for p in read)
    assert resolved == sorted(str(Path(f).resolve()) for f in files)  # every image read to decide, none again
    for path in results.glob("*_sc_*.dcm"):
        sc = pydicom.dcmread(path)
        assert {r.ReferencedSOPInstanceUID for r in sc.SourceImageSequence} == others
        assert (sc.Rows, sc.Columns) == (syn.N, syn.N) and sc.BurnedInAnnotation == "YES"
    _second_reader(results / f"{series.series_id}_sr.dcm", next(results.glob("*_sc_*.dcm")))


def test_dicom_results_option_as_the_command_line_gives_it(tmp_path):
    calls = []

    def clinical_run(**kwargs):
        calls.append(kwargs)
        return type("Result", (), {"series": []})()

    for off in (False, "false", "False", "0"):
        assert with_dicom_results(clinical_run, [], tmp_path, off) is clinical_run
    with_dicom_results(clinical_run, [], tmp_path, "true")()
    assert calls == [{"saliency": True}]  # the secondary captures need the overlays
