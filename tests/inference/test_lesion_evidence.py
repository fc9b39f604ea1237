"""The lesion map as evidence (a network with a lesion head): a tiny deterministic network whose lesion map is the
planted bright marker of the synthetic phantom must give the marker back at the right voxels of the input's own
geometry (NIfTI map with the input's affine; DICOM SEG on the source frames), for stored, flipped and resliced
inputs; the measurements, the overlays' outline, the lesion-volume decision and the validation warning."""

from __future__ import annotations

import csv
import json

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from monai_tumorcls.apps.clinical import ClinicalInferer, grouped_options, run_clinical_inference
from monai_tumorcls.apps.clinical.model_validation import NOT_VALIDATED_ON_VOLUMES, validation_record
from monai_tumorcls.data.slicing import slices_to_volume, volume_to_slices
from tests.inference import synthetic_inputs as syn
from tests.inference.dicom_checks import sr_items
from tests.inference import synthetic_networks as nets

MARKER_VOXELS = 9 * 9 * 9  # ix <= 8, iy <= 8, iz >= 23 of the 32^3 phantom
GRADIENT_LEVEL = 601.5  # a lesion of every voxel above it: the marker and the phantom's top (20 * iz + ix > 501.5)
VALIDATED = {"trained_on": ["kaggle", "lgg"], "volumes_validated": True, "summary": "held-out people",
             "held_out": {"lgg": 0.91}, "source": "docs/reports/external_validation.md"}


def _run(paths, out, network=None, **kw):
    network = network if network is not None else nets.lesion_network()
    return run_clinical_inference(paths, network, nets.marker_preprocess(32), nets.CLASS_NAMES, out,
                                  run_name="r", **kw)


def _sagittal_nifti(path):
    nib.save(syn.sagittal_nifti_image(), str(path))
    return path


@pytest.mark.parametrize("layout", ["LPS", "permuted", "sagittal"])
def test_nifti_lesion_map_is_the_planted_lesion_on_the_input_grid(layout, tmp_path):
    path = tmp_path / "in" / f"{layout}.nii.gz"
    path.parent.mkdir()
    source = _sagittal_nifti(path) if layout == "sagittal" else syn.write_nifti(path, layout)
    asymmetric = _run([source], tmp_path / "asym", nets.lesion_network(GRADIENT_LEVEL / syn.MARKER))
    series = json.loads(asymmetric.json_path.read_text())["series"][0]
    assert series["resliced"] == (layout != "LPS")  # permuted (coronal) and sagittal are resliced to axial
    stored = nib.load(str(source))
    written = nib.load(str(tmp_path / "asym" / series["lesion"]["map_file"]))
    assert written.shape == stored.shape and np.allclose(written.affine, stored.affine)
    planted = np.asarray(stored.dataobj) > GRADIENT_LEVEL
    np.testing.assert_array_equal(written.get_fdata() >= 0.5, planted)
    result = _run([source], tmp_path / "out")  # the marker alone: known measurements
    series = json.loads(result.json_path.read_text())["series"][0]
    lesion = series["lesion"]
    assert lesion["n_voxels"] == MARKER_VOXELS and lesion["slice_range"] == [23, 31]
    assert lesion["volume_ml"] == pytest.approx(MARKER_VOXELS * syn.SPACING**3 / 1000, abs=1e-3)
    assert lesion["peak"]["row"] < 0.3 and lesion["peak"]["col"] < 0.3  # top-left: anterior, patient right
    top = series["slices"][28]
    assert top["lesion_area_px"] == 81 and top["lesion_area_mm2"] == pytest.approx(81 * syn.SPACING**2)
    assert series["slices"][10]["lesion_area_px"] == 0


@pytest.mark.parametrize("acq", ["axial_flipped", "sagittal"])
def test_dicom_seg_marks_the_planted_lesion_on_its_source_frames(acq, tmp_path):
    files = syn.write_series(tmp_path / "in", acq, shuffle=True)
    result = _run([tmp_path / "in"], tmp_path / "out", nets.lesion_network(GRADIENT_LEVEL / syn.MARKER),
                  dicom_results=True)
    series = result.series[0]
    assert series.resliced == (acq == "sagittal")
    results = tmp_path / "out" / "dicom_results"
    seg = hd.seg.segread(results / f"{series.series_id}_seg.dcm")
    assert seg.SegmentationType == "FRACTIONAL" and seg.Modality == "SEG"
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert seg.StudyInstanceUID == first.StudyInstanceUID and seg.PatientID == first.PatientID
    for f in files:
        ds = pydicom.dcmread(f)
        mask = seg.get_pixels_by_source_instance([ds.SOPInstanceUID], segment_numbers=[1], rescale_fractional=True)
        np.testing.assert_array_equal(mask[0, :, :, 0] >= 0.5, ds.pixel_array > GRADIENT_LEVEL)
    sr = pydicom.dcmread(results / f"{series.series_id}_sr.dcm")
    (lesion_group,) = [g for g in sr_items(sr)["Measurement Group"]
                       if "Predicted lesion volume" in sr_items(g)]  # the TID 1501 group "predicted lesion"
    volume = sr_items(lesion_group)["Predicted lesion volume"][0].MeasuredValueSequence[0]
    assert float(volume.NumericValue) == pytest.approx(series.lesion.volume_ml, abs=1e-3)
    sc = pydicom.dcmread(next(results.glob("*_sc_*.dcm")))
    assert sc.SeriesDescription.startswith("Predicted lesion")
    text = (tmp_path / "out" / "r.json").read_text() + (tmp_path / "out" / "r.csv").read_text()
    assert not [s for s in syn.identifying_strings(files) if s in text]  # the identity stays in the DICOM files


def test_a_seg_that_cannot_be_built_leaves_the_sr_and_captures(tmp_path, monkeypatch, caplog):
    from monai_tumorcls.apps.clinical import dicom_results

    def no_seg(*args, **kwargs):
        raise ValueError("source images without FrameOfReferenceUID")

    monkeypatch.setattr(dicom_results, "lesion_seg", no_seg)
    syn.write_series(tmp_path / "in", "axial_flipped")
    with caplog.at_level("ERROR"):
        result = _run([tmp_path / "in"], tmp_path / "out", nets.lesion_network(GRADIENT_LEVEL / syn.MARKER),
                      dicom_results=True)
    sid = result.series[0].series_id
    results = tmp_path / "out" / "dicom_results"
    assert (results / f"{sid}_sr.dcm").is_file() and list(results.glob(f"{sid}_sc_*.dcm"))
    assert not (results / f"{sid}_seg.dcm").exists()
    assert f"series {sid}: lesion SEG not written (ValueError)" in caplog.text


def test_saliency_is_the_outlined_lesion_and_grad_cam_points_finer(tmp_path):
    source = syn.write_nifti(tmp_path / "ax.nii.gz", "LPS")
    result = _run([source], tmp_path / "out", saliency=True)
    report = json.loads(result.json_path.read_text())
    assert report["run"]["saliency_map"] == "lesion" and report["run"]["lesion_threshold"] == 0.5
    (k,) = result.series[0].decision.contributing_slices
    overlay = np.asarray(Image.open(tmp_path / "out" / result.series[0].slices[k].saliency_file).convert("RGB"))
    green = (overlay[..., 1] == 255) & (overlay[..., 0] == 0) & (overlay[..., 2] == 0)
    assert green[8, :9].all() and green[:9, 8].all() and not green[:8, :8].any()  # the marker's inner boundary
    assert not green[10:].any()
    lesion_net, classifier = nets.lesion_network(), nets.marker_network()
    grad_cam = ClinicalInferer(lesion_net, nets.marker_preprocess(), nets.CLASS_NAMES,
                               **grouped_options(saliency_map="grad_cam"))
    plain = ClinicalInferer(classifier, nets.marker_preprocess(), nets.CLASS_NAMES)
    assert (grad_cam.predictor.saliency_map, grad_cam.predictor.saliency_layer) == ("grad_cam", "features.layer3")
    assert (plain.predictor.saliency_map, plain.predictor.saliency_layer) == ("grad_cam", "features.layer4")
    with pytest.raises(ValueError, match="lesion head"):
        ClinicalInferer(classifier, nets.marker_preprocess(), nets.CLASS_NAMES, **grouped_options(saliency_map="lesion"))


def test_a_classifier_run_has_no_lesion_fields(tmp_path):
    result = _run([syn.write_nifti(tmp_path / "ax.nii.gz", "LPS")], tmp_path / "out", network=nets.marker_network())
    series = json.loads(result.json_path.read_text())["series"][0]
    assert "lesion" not in series and "lesion_area_px" not in series["slices"][0]
    assert "lesion_volume_ml" not in series["decision"]
    header = result.csv_path.read_text().splitlines()[0]
    assert "lesion" not in header and not (tmp_path / "out" / "r_lesion").exists()


@pytest.mark.parametrize("volume_ml, label", [(1.0, "tumour"), (2.0, "no_tumour")])
def test_lesion_volume_rule_decides_by_the_lesion_volume(volume_ml, label, tmp_path):
    source = syn.write_nifti(tmp_path / "ax.nii.gz", "LPS")  # lesion 1.42 ml, classifier: tumour
    result = _run([source], tmp_path / "out", aggregation="lesion_volume", lesion_volume_ml=volume_ml)
    decision = json.loads(result.json_path.read_text())["series"][0]["decision"]
    assert decision["label"] == label and decision["method"] == "lesion_volume"
    assert decision["lesion_volume_ml"] == volume_ml
    if label == "tumour":
        assert set(decision["contributing_slices"]) <= set(range(23, 32))  # the slices with the largest lesion
    with pytest.raises(ValueError, match="lesion head"):
        ClinicalInferer(nets.marker_network(), nets.marker_preprocess(), nets.CLASS_NAMES,
                        **grouped_options(aggregation="lesion_volume"))


def test_series_of_a_model_without_volume_validation_carry_the_warning(tmp_path):
    source = syn.write_nifti(tmp_path / "ax.nii.gz", "LPS")
    unvalidated = _run([source], tmp_path / "a")
    report = json.loads(unvalidated.json_path.read_text())
    assert report["run"]["validation"] is None
    assert report["series"][0]["warnings"] == [NOT_VALIDATED_ON_VOLUMES]
    rows = list(csv.DictReader(unvalidated.csv_path.open()))
    assert {r["series_warnings"] for r in rows} == {NOT_VALIDATED_ON_VOLUMES}
    validated = _run([source], tmp_path / "b", validation=VALIDATED)
    report = json.loads(validated.json_path.read_text())
    assert report["run"]["validation"] == VALIDATED and report["series"][0]["warnings"] == []
    not_on_volumes = _run([source], tmp_path / "c", validation={**VALIDATED, "volumes_validated": "yes"})
    assert not_on_volumes.series[0].warnings == [NOT_VALIDATED_ON_VOLUMES]  # only True is validated


def test_validation_record_is_read_defensively():
    hostile = {"trained_on": "kaggle", "volumes_validated": 1, "summary": "x" * 5000,
               "held_out": {"a": float("nan"), "b": True, "c": 0.5}, "source": ["?"]}
    record = validation_record(hostile)
    assert record == {"trained_on": [], "volumes_validated": False, "summary": "x" * 400, "held_out": {"c": 0.5},
                      "source": ""}
    assert validation_record(None) is None and validation_record("validated") is None


def test_image_rows_carry_the_lesion_area_and_no_volume_warning(tmp_path):
    inferer = ClinicalInferer(nets.lesion_network(), nets.marker_preprocess(32), nets.CLASS_NAMES)
    image = torch.zeros(1, 3, 32, 32)
    image[:, :, :4, :5] = 1.0  # a 4 x 5 lesion on a 32 x 32 input
    batch = {"image": image, "image_path": ["a.png"], "error": [""], "skipped": [""], "warnings": [""]}
    (row,) = inferer.classify_images([batch])
    assert row["status"] == "ok" and row["lesion_area_px"] == 20
    assert row["lesion_peak"]["probability"] == pytest.approx(1.0) and row["warnings"] == []


def test_slices_to_volume_inverts_the_padding_and_the_square_pixel_resampling():
    volume = np.random.default_rng(0).random((20, 12, 3)).astype(np.float32)
    affine = np.diag([1.0, 2.0, 3.0, 1.0])  # columns twice as wide: resampled to 20 x 24, padded to 24 x 24
    stack = volume_to_slices(volume, affine, "axial")
    assert stack.resampled and stack.padded and stack.unpadded_shape == (20, 24)
    mask = np.zeros_like(volume)
    mask[5:15, 3:9] = 1.0
    back = slices_to_volume(volume_to_slices(mask, affine, "axial").images, stack, volume.shape[:2])
    assert back.shape == volume.shape
    np.testing.assert_array_equal(back >= 0.5, mask >= 0.5)


def test_lesion_volume_rule_without_a_spacing_says_so(tmp_path):
    """A DICOM series without PixelSpacing has lesion areas in pixels but no volume: the lesion-volume rule cannot
    decide, and the error says that (not "no slice with signal")."""
    for path in syn.write_series(tmp_path / "dicom"):
        ds = pydicom.dcmread(path)
        del ds.PixelSpacing
        ds.save_as(path)
    result = _run([tmp_path / "dicom"], tmp_path / "out", aggregation="lesion_volume", lesion_volume_ml=1.0)
    series = json.loads(result.json_path.read_text())["series"][0]
    assert series["decision"]["label"] != "tumour" and series["lesion"]["volume_ml"] is None
    assert [e.reason for e in result.errors] == [
        "lesion volume unknown (the input has no pixel or slice spacing): the lesion_volume rule gives no decision"]
