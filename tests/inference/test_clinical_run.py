"""ClinicalInferer / run_clinical_inference on synthetic DICOM/NIfTI inputs with a fixed dummy network."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from datetime import datetime, timezone

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch

import monai_tumorcls
from monai_tumorcls.apps.clinical import ClinicalInferer, grouped_options, run_clinical_inference
from monai_tumorcls.checkpoint import PROVENANCE_COLUMNS, Provenance
from tests.inference import synthetic_inputs as syn
from tests.inference import synthetic_networks as nets

NAME_DIR = "Doe^Jane^Secretname"  # exporters often name folders after the patient
PROVENANCE = Provenance("tiny_bundle", "9.8.7", "ab" * 32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("clinical")
    study_dir = root / NAME_DIR
    study = pydicom.uid.generate_uid()
    tumour = syn.write_series(study_dir / "t1_ax", "axial", shuffle=True, tags=syn.SeriesTags(study_uid=study))
    healthy = syn.write_series(study_dir / "t2_sag", "sagittal", marker=False, tags=syn.SeriesTags(study_uid=study))
    ct_tags = syn.SeriesTags(study_uid=study, modality="CT", sop_class=syn.CT_IMAGE_STORAGE)
    ct = syn.write_series(study_dir / "ct", "axial", n_slices=6, tags=ct_tags)
    syn.write_sr(study_dir / "sr" / "report.dcm", study)
    syn.write_presentation_state(study_dir / "ps" / "ps.dcm", study)
    (study_dir / "README.txt").write_text("PACS export")
    (study_dir / "fake.dcm").write_text("not dicom")
    syn.truncate(tumour[30], 0.7)  # one slice of the tumour series loses half its pixels
    cut_header = syn.write_series(root / "other", n_slices=1, file_prefix="H")[0]
    syn.truncate(cut_header, 0.05)
    nifti = syn.write_nifti(root / "nifti" / "sub-01_T1w.nii.gz", "LPS")
    zero = root / "nifti" / "zero.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((0, 8, 8), np.int16), np.eye(4)), str(zero))
    (root / "empty").mkdir()
    files = tumour + healthy + ct
    return {
        "root": root,
        "study_dir": study_dir,
        "tumour": tumour,
        "healthy": healthy,
        "nifti": nifti,
        "zero": zero,
        "cut_header": cut_header,
        "files": files,
    }


def _run(paths, out, **kw):
    kw.setdefault("run_name", "run1")
    return run_clinical_inference(paths, nets.marker_network(), nets.marker_preprocess(), nets.CLASS_NAMES, out, **kw)


@pytest.fixture(scope="module")
def mixed_run(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    logger = logging.getLogger("monai_tumorcls")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    h = Keep(level=logging.DEBUG)
    old = logger.level
    logger.addHandler(h)
    logger.setLevel(logging.DEBUG)
    started = time.time()
    try:
        result = _run(
            [
                inputs["study_dir"],
                inputs["nifti"],
                inputs["zero"],
                inputs["root"] / "empty",
                inputs["root"] / "missing",
                inputs["cut_header"],
            ],
            out,
            aggregation="max",
            provenance=PROVENANCE,
        )
    finally:
        logger.removeHandler(h)
        logger.setLevel(old)
    log_text = "\n".join(r.getMessage() for r in records)
    return result, out, log_text, (started, time.time())


def test_decisions(mixed_run):
    result, *_ = mixed_run
    assert [(s.source, s.input_index) for s in result.series] == [("dicom", 0), ("dicom", 0), ("nifti", 1)]
    by_plane = {s.acquisition_plane: s for s in result.series if s.source == "dicom"}
    tumour, healthy = by_plane["axial"], by_plane["sagittal"]
    nifti = result.series[2]
    for s in (tumour, nifti):
        assert s.decision.is_tumour and s.decision.predicted_class == "glioma"
        assert s.decision.contributing_slices[0] in range(23, 32)
        assert s.slices[s.decision.contributing_slices[0]].contributing
        assert [r.slice_index for r in s.slices if r.excluded] == [0, 1, 2, 3]  # blank (constant) slices
        assert all(r.exclusion_reason == "no signal (constant slice)" for r in s.slices if r.excluded)
        assert all(r.tumour_probability is None for r in s.slices if r.excluded)
    assert not healthy.decision.is_tumour and healthy.decision.predicted_class == "notumor"
    assert healthy.resliced and healthy.slice_plane == "axial" and "resliced from sagittal to axial" in healthy.notes
    assert all(r.source_file_id is None for r in healthy.slices)  # resliced: no one-to-one source file
    assert tumour.n_slices == 31 and "1 file(s) left out: pixel data unreadable" in tumour.notes
    assert nifti.n_slices == 32 and nifti.series_id.startswith("v-")


def test_slice_provenance_points_at_the_right_file(mixed_run, inputs):
    result, *_ = mixed_run
    tumour = next(s for s in result.series if s.source == "dicom" and not s.resliced)
    by_id = {"f-" + hashlib.sha256(f.read_bytes()).hexdigest()[:16]: f for f in inputs["tumour"]}
    positions = [r.position_mm for r in tumour.slices]
    assert np.all(np.diff(positions) > 0)  # inferior -> superior
    for r in tumour.slices:
        ds = pydicom.dcmread(by_id[r.source_file_id], stop_before_pixels=True)
        assert float(ds.ImagePositionPatient[2]) == pytest.approx(r.position_mm)
        assert int(ds.InstanceNumber) == r.source_instance_number
    assert len(tumour.file_ids) == 31


def test_errors_and_skips(mixed_run):
    result, *_ = mixed_run
    assert result.exit_code == 1 and not result.ok
    errors = [(e.input_index, e.item.split(" ")[0], e.reason) for e in result.errors]
    reasons = " | ".join(r for _, _, r in errors)
    assert "named .dcm but not a DICOM file" in reasons
    assert "pixel data truncated" in reasons and "left out of series s-" in reasons
    assert (2, "volume", "zero-size volume (shape (0, 8, 8))") in errors
    assert (3, "input", "empty folder (no files)") in errors
    assert (4, "input", "does not exist") in errors
    assert any(i == 5 and "truncated or corrupt DICOM header" in r for i, _, r in errors)
    skipped = " | ".join(s.reason for s in result.skipped)
    for expected in (
        "modality CT not in ['MR']",
        "not an image: Basic Text SR Storage",
        "not an image: Grayscale Softcopy Presentation State Storage",
        "not a DICOM file",
    ):
        assert expected in skipped
    status = {i["input_index"]: i["status"] for i in result.inputs}
    assert status == {0: "partial", 1: "ok", 2: "failed", 3: "failed", 4: "failed", 5: "failed"}


def test_outputs_written_atomically_with_schema(mixed_run):
    result, out, *_ = mixed_run
    assert sorted(p.name for p in out.iterdir()) == ["run1.csv", "run1.json"]  # no temp files left
    report = json.loads(result.json_path.read_text())
    assert report["schema_version"] == 2
    assert set(report) == {"schema_version", "provenance", "run", "summary", "inputs", "series", "skipped", "errors"}
    assert report["summary"]["exit_code"] == 1 and report["summary"]["n_series_classified"] == 3
    s = report["series"][0]
    assert {"series_id", "decision", "slices", "provenance", "slice_plane", "notes"} <= set(s)
    assert set(s["decision"]) >= {
        "label",
        "tumour_probability",
        "predicted_class",
        "class_probabilities",
        "contributing_slices",
        "method",
        "top_k",
        "threshold",
    }
    rows = list(csv.DictReader(result.csv_path.open()))
    assert len(rows) == sum(x.n_slices for x in result.series)
    assert {"series_id", "slice_index", "tumour_probability", "prob_glioma", "source_file_id"} <= set(rows[0])
    contributing = [r for r in rows if r["contributing"] == "1"]
    assert len(contributing) == 3 and all(r["excluded"] == "0" for r in contributing)


def test_report_and_slice_table_name_what_produced_them(mixed_run):
    result, _, _, (started, ended) = mixed_run
    report = json.loads(result.json_path.read_text())
    traced = report["provenance"]
    assert traced == {"package_version": monai_tumorcls.__version__, "checkpoint_sha256": "ab" * 32,
                      "bundle": {"name": "tiny_bundle", "version": "9.8.7"}, "created": traced["created"]}
    created = datetime.strptime(traced["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert int(started) <= created.timestamp() <= ended  # the run's own time, in UTC
    assert result.provenance == traced and "created_utc" not in report["run"]  # one home for the time
    rows = list(csv.DictReader(result.csv_path.open()))
    assert list(rows[0])[-len(PROVENANCE_COLUMNS):] == list(PROVENANCE_COLUMNS)
    assert {tuple(r[c] for c in PROVENANCE_COLUMNS) for r in rows} == {
        (monai_tumorcls.__version__, "tiny_bundle", "9.8.7", "ab" * 32, traced["created"])}


def test_skipped_files_are_named_by_their_path_in_the_input(mixed_run):
    result, *_ = mixed_run
    skipped = json.loads(result.json_path.read_text())["skipped"]
    named = {s["path"]: s["reason"] for s in skipped if "path" in s}
    assert set(named) == {"README.txt", "sr/report.dcm", "ps/ps.dcm"}  # relative to the input folder given
    assert "Basic Text SR Storage" in named["sr/report.dcm"] and "not a DICOM file" in named["README.txt"]
    assert [s["item"].split()[0] for s in skipped if "path" not in s] == ["series"]  # the CT series: by its id
    assert not [e for e in result.errors if e.path is not None]  # files that were read: paths with record_paths only


def test_nothing_identifying_in_outputs_or_logs(mixed_run, inputs):
    result, out, log_text, _ = mixed_run
    text = syn.read_all_text(out) + "\n" + log_text
    secrets = syn.identifying_strings(inputs["files"]) + [
        NAME_DIR,
        "Secretname",
        str(inputs["root"]),
        "sub-01_T1w",
        "t1_ax",
        "IM00",
    ]
    for s in secrets:
        assert s not in text, s
    assert "input 0" in log_text and "error" in log_text  # logs exist, they just hold no identifiers


def test_record_paths_opt_in(inputs, tmp_path):
    result = _run([inputs["study_dir"] / "t1_ax"], tmp_path, record_paths=True, run_name="withpaths")
    report = json.loads(result.json_path.read_text())
    files = report["series"][0]["provenance"]["files"]
    assert all(not f.startswith("/") and f.endswith(".dcm") for f in files)
    assert report["inputs"][0]["path"] == str(inputs["study_dir"] / "t1_ax")
    assert "source_path" in next(csv.DictReader(result.csv_path.open()))


def test_exit_codes_and_arguments(inputs, tmp_path):
    ok = _run([inputs["nifti"]], tmp_path, run_name="ok", aggregation="top_k_mean", top_k=2)
    assert ok.exit_code == 0 and ok.ok and ok.series[0].decision.method == "top_k_mean"
    assert len(ok.series[0].decision.contributing_slices) == 2
    none = _run([inputs["root"] / "empty"], tmp_path, run_name="none")
    assert none.exit_code == 2 and json.loads(none.json_path.read_text())["series"] == []
    for bad in ("../evil", "a/b", "x y", ".hidden"):
        with pytest.raises(ValueError):
            _run([inputs["nifti"]], tmp_path, run_name=bad)
    with pytest.raises(ValueError):
        _run([inputs["nifti"]], tmp_path, slice_axis="oblique")
    with pytest.raises(ValueError):
        _run([inputs["nifti"]], tmp_path, aggregation="median")


def test_coronal_axis_and_square_pixels(tmp_path):
    # 2 mm thick axial slices resliced to coronal: rows are S-I at 2 mm -> resampled to 1 mm, padded square
    data = np.zeros((16, 20, 10), np.float32)
    data[4:12, 5:15, 2:8] = np.arange(6, dtype=np.float32)[None, None, :] + 1
    p = tmp_path / "thick.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), str(p))
    seen = []

    def pre(d):
        seen.append(tuple(d["image"].shape))
        return nets.marker_preprocess()(d)

    r = run_clinical_inference(
        [p], nets.marker_network(), pre, nets.CLASS_NAMES, tmp_path, slice_axis="coronal", run_name="cor"
    )
    s = r.series[0]
    assert s.slice_plane == "coronal" and s.resliced and s.n_slices == 20
    assert s.pixel_spacing_mm == [1.0, 1.0] and "in-plane resampled to square pixels" in s.notes
    assert set(seen) == {(1, 20, 20)}  # 10 rows * 2 mm -> 20 rows, 16 columns padded to 20


def test_binary_sigmoid_model(inputs, tmp_path):
    class Binary(torch.nn.Module):
        def forward(self, x):
            return (x.amax(dim=(1, 2, 3)) - 0.5)[:, None] * 20  # (B, 1) logit for "tumor"

    r = run_clinical_inference(
        [inputs["nifti"]], Binary(), nets.marker_preprocess(), ["notumor", "tumor"], tmp_path, run_name="bin"
    )
    d = r.series[0].decision
    assert d.is_tumour and d.predicted_class == "tumor" and set(d.class_probabilities) == {"notumor", "tumor"}


def test_failing_network_or_preprocess_is_a_per_series_error(inputs, tmp_path):
    wrong = torch.nn.Sequential(torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 7))
    r = run_clinical_inference(
        [inputs["nifti"], inputs["nifti"]], wrong, nets.marker_preprocess(), nets.CLASS_NAMES, tmp_path, run_name="wrong"
    )
    assert r.exit_code == 2 and len(r.errors) == 2 and "7 outputs for 4 class names" in r.errors[0].reason

    def broken(d):
        raise RuntimeError("boom")

    r = run_clinical_inference(
        [inputs["nifti"]], nets.marker_network(), broken, nets.CLASS_NAMES, tmp_path, run_name="broken"
    )
    assert r.exit_code == 2 and "classification failed (RuntimeError: boom)" in r.errors[0].reason


def test_slice_layout_matches_the_training_reader(inputs, tmp_path):
    """"HW": rows first (display order, RasterImageReader(reverse_indexing=False)); "WH": MONAI PILReader order."""
    seen: dict[str, dict[int, np.ndarray]] = {"HW": {}, "WH": {}}

    def spy(layout):
        def pre(d):
            seen[layout][int(d["image"].meta["slice_index"])] = d["image"][0].numpy().copy()
            return nets.marker_preprocess()(d)

        return pre

    for layout in ("HW", "WH"):
        r = run_clinical_inference([inputs["nifti"]], nets.marker_network(), spy(layout), nets.CLASS_NAMES, tmp_path,
                                   run_name=f"layout{layout}", slice_layout=layout)
        assert json.loads(r.json_path.read_text())["run"]["slice_layout"] == layout
    hw, wh = seen["HW"][28], seen["WH"][28]
    np.testing.assert_array_equal(hw, syn.expected_axial()[:, :, 28])
    np.testing.assert_array_equal(wh, hw.T)
    assert (hw[:9, :9] == syn.MARKER).all()  # display order: marker top-left (anterior, patient right)
    with pytest.raises(ValueError):
        _run([inputs["nifti"]], tmp_path, slice_layout="CHW")


def test_saliency_lights_the_marker_of_each_contributing_slice(inputs, tmp_path):
    # Grad-CAM on the input (an identity layer in front of the marker network): the decision depends only on
    # the brightest pixel, the marker, which sits at the top-left of superior axial slices
    net = torch.nn.Sequential(torch.nn.Identity(), *nets.marker_network())
    result = run_clinical_inference([inputs["nifti"]], net, nets.marker_preprocess(), nets.CLASS_NAMES, tmp_path,
                                    run_name="sal", aggregation="top_k_mean", saliency=True, saliency_layer="0")
    series = result.series[0]
    report = json.loads(result.json_path.read_text())["series"][0]
    assert series.decision.is_tumour and len(series.decision.contributing_slices) == 3
    for k in series.decision.contributing_slices:
        row = report["slices"][k]
        assert (tmp_path / row["saliency_file"]).stat().st_size > 0
        assert row["saliency_peak"]["row"] < 0.25 and row["saliency_peak"]["col"] < 0.25, row["saliency_peak"]
    assert all("saliency_file" not in s for k, s in enumerate(report["slices"]) if k not in series.decision.contributing_slices)
    assert sorted(p.name for p in (tmp_path / "sal_saliency").iterdir()) == sorted(
        f"{series.series_id}_slice{k:04d}.png" for k in series.decision.contributing_slices)


def test_all_nan_volume_is_an_error_not_a_silent_undetermined(tmp_path):
    nan = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(np.full((8, 8, 6), np.nan, np.float32), np.eye(4)), str(nan))
    result = _run([nan], tmp_path / "out")
    assert result.series[0].decision.label == "undetermined"
    assert result.exit_code == 2 and not result.ok
    assert [e.reason for e in result.errors] == ["no slice with signal (blank, constant or non-finite): no decision"]
    healthy = syn.write_nifti(tmp_path / "ok.nii.gz", "LPS")
    mixed = _run([nan, healthy], tmp_path / "out2")
    assert mixed.n_decided == 1 and mixed.exit_code == 1


def test_inferer_classifies_one_input_in_memory(inputs, tmp_path):
    """ClinicalInferer.classify_input: one upload, the result in memory, nothing written but the overlays."""
    net = torch.nn.Sequential(torch.nn.Identity(), *nets.marker_network())
    inferer = ClinicalInferer(net, nets.marker_preprocess(), nets.CLASS_NAMES,
                              **grouped_options(aggregation="top_k_mean", saliency_layer="0"))
    found = inferer.classify_input(inputs["nifti"], saliency_dir=tmp_path / "overlays")
    assert found.status == "ok" and not found.errors and len(found.series) == 1
    series = found.series[0]
    assert series.decision.is_tumour and len(series.tumour_probabilities) == series.n_slices
    assert all(0 <= s.probabilities["glioma"] <= 1 for s in series.slices if not s.excluded)
    for k in series.decision.contributing_slices:
        assert (tmp_path / series.slices[k].saliency_file).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlays"]
    missing = inferer.classify_input(tmp_path / "nope", input_index=4)
    assert missing.status == "failed" and missing.errors[0].input_index == 4 and missing.errors[0].reason == "does not exist"


@pytest.mark.parametrize(
    "option, value",
    [("aggregation", "median"), ("top_k", 0), ("threshold", 1.5), ("batch_size", 0), ("slice_axis", "oblique"),
     ("activation", "relu"), ("slice_layout", "CHW"), ("min_foreground_fraction", -0.1), ("positive_classes", ["x"]),
     ("selection", "MR")],
)
def test_inferer_refuses_bad_options_at_construction(option, value):
    """Each option, in its group (SeriesDecisionRule, SliceOptions, PredictionOptions), is checked by the inferer."""
    with pytest.raises(ValueError, match=option):
        ClinicalInferer(nets.marker_network(), nets.marker_preprocess(), nets.CLASS_NAMES, **grouped_options(**{option: value}))


def test_tiny_and_blank_slices_are_flagged(tmp_path):
    rng = np.random.default_rng(0)
    tiny = rng.normal(100, 20, (8, 8, 6)).astype(np.float32)
    tiny[:, :, 0] = 5.0  # one blank slice
    path = tmp_path / "tiny.nii.gz"
    nib.save(nib.Nifti1Image(tiny, np.eye(4)), str(path))
    result = _run([path, syn.write_nifti(tmp_path / "ok.nii.gz", "LPS")], tmp_path / "out")
    small, fine = result.series
    assert "tiny image (8x8 px, a side below 16)" in small.notes
    flagged = {r.slice_index: r.warnings for r in small.slices}
    assert all("tiny image (8x8 px, a side below 16)" in w for w in flagged.values())
    assert ["blank image (one value)" in w for w in flagged.values()] == [True] + [False] * 5
    assert not any("tiny" in n for n in fine.notes)
    assert all(r.warnings == (["blank image (one value)"] if r.exclusion_reason.startswith("no signal") else [])
               for r in fine.slices)
    rows = [r for r in csv.DictReader(result.csv_path.open()) if r["series_id"] == small.series_id]
    assert rows[0]["warnings"] == "blank image (one value); tiny image (8x8 px, a side below 16)"
    assert json.loads(result.json_path.read_text())["series"][0]["slices"][1]["warnings"] == [
        "tiny image (8x8 px, a side below 16)"]
