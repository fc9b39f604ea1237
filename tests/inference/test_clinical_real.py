"""Integration: run_clinical_inference on the real DICOM series and NIfTI volumes (dummy network; the trained-model
ranking check is wired through tumour_slice_auc once a trained model exists)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pydicom
import pytest

from monai_tumorcls.apps.clinical import run_clinical_inference
from monai_tumorcls.apps.validation import load_slice_labels, tumour_slice_auc
from tests.inference import synthetic_networks as nets

pytestmark = pytest.mark.integration

LGG_T1C = "tcga-lgg-TCGA-FG-6692-brats-space/OtherEXampleFromTCIA_t1c_bet.nii.gz"
LGG_SEG = "tcga-lgg-TCGA-FG-6692-brats-space/segmentation_predicted/fusion_mav.nii.gz"
BRATS_T1C = "brats2023-gli/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1c.nii.gz"


@pytest.fixture(scope="module")
def real_run(dicom_root, nifti_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("real_out")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("monai_tumorcls")
    handler, old = Keep(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        result = run_clinical_inference(
            [dicom_root, nifti_root / BRATS_T1C, nifti_root / LGG_T1C],
            nets.marker_network(),
            nets.marker_preprocess(),
            nets.CLASS_NAMES,
            out,
            run_name="real",
            aggregation="top_k_mean",
            batch_size=64,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    return result, out, "\n".join(r.getMessage() for r in records)


def test_everything_classified(real_run):
    result, _, _ = real_run
    assert result.exit_code == 0 and result.errors == []
    assert len(result.skipped) == 4  # PROVENANCE.md, SHA256SUMS, SOURCE_README.md, SOURCE_notes.txt
    dicom = sorted((s for s in result.series if s.source == "dicom"), key=lambda s: s.n_slices)
    ge, siemens = dicom
    assert ge.n_slices == 37 and not ge.resliced and len(ge.file_ids) == 37
    assert siemens.acquisition_plane == "sagittal" and siemens.resliced and siemens.n_slices == 256
    assert len(siemens.file_ids) == 176 and siemens.volume_shape == [256, 176, 256]
    assert [s.n_slices for s in result.series if s.source == "nifti"] == [155, 155]
    for s in result.series:
        assert s.slice_plane == "axial" and s.decision.label in ("tumour", "no_tumour")
        assert np.all(np.diff([r.position_mm for r in s.slices]) > 0)
        assert 0 < s.n_excluded_slices < s.n_slices or s.source == "dicom"


def test_skipped_files_are_named_by_their_path_in_the_input(real_run, dicom_root):
    result, out, _ = real_run
    skipped = json.loads((out / "real.json").read_text())["skipped"]
    expected = {p.relative_to(dicom_root).as_posix() for p in dicom_root.rglob("*")
                if p.is_file() and p.suffix != ".dcm"}
    assert {s["path"] for s in skipped} == expected == {
        "PROVENANCE.md", "SHA256SUMS", "siemens-trio-b17-t1-mprage-brain/SOURCE_README.md",
        "siemens-trio-b17-t1-mprage-brain/SOURCE_notes.txt"}


def test_no_identifying_values_in_outputs_or_logs(real_run, dicom_root, nifti_root):
    result, out, log_text = real_run
    report = json.loads((out / "real.json").read_text())
    for issue in report["skipped"]:  # the one place a path below the input is written (checked above)
        issue.pop("path")
    text = "\n".join(p.read_text() for p in out.iterdir() if p.suffix != ".json") + json.dumps(report) + log_text
    secrets = {"Rorden", "TCGA-FG-6692", "BraTS-GLI", "OtherEXample", str(dicom_root), str(nifti_root)}
    for folder in ("siemens-trio-b17-t1-mprage-brain", "ge-epi-brain-small"):
        secrets.add(folder)
        for f in sorted((dicom_root / folder).glob("*.dcm"))[:3]:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            secrets |= {str(ds.PatientName), ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID}
            if ds.get("PatientID"):
                secrets.add(str(ds.PatientID))
            if ds.get("SeriesDescription"):
                secrets.add(str(ds.SeriesDescription))
    for s in secrets:
        if s:
            assert s not in text, s
    assert report["summary"]["n_series_classified"] == 4


def test_slice_table_aligns_with_label_slices(real_run, nifti_root):
    """The slice index of the run is the slice index of the label map read the same way, so the trained-model
    AUC check is tumour_slice_auc(series.tumour_probabilities, load_slice_labels(label))."""
    result, _, _ = real_run
    series = next(s for s in result.series if s.source == "nifti" and s.input_index == 2)
    flags = load_slice_labels(nifti_root / LGG_SEG)
    assert len(flags) == series.n_slices and flags.sum() > 20
    # synthetic probabilities standing in for a trained model: high on tumour slices, plus noise
    rng = np.random.default_rng(0)
    fake = np.where(flags, 0.8, 0.3) + rng.normal(0, 0.05, len(flags))
    probs = [None if r.excluded else float(p) for r, p in zip(series.slices, fake)]
    res = tumour_slice_auc(probs, flags, ignore_margin=2)
    assert res.auc > 0.99 and res.n_tumour_slices == int(flags.sum())
    assert tumour_slice_auc(series.tumour_probabilities, flags).n_ignored == series.n_excluded_slices
