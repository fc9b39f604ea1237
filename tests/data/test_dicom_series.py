"""Folder scanning, grouping, slice ordering and series selection on synthetic DICOM."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import generate_uid

from monai_tumorcls.data.readers import (
    DicomFrameRef,
    SeriesSelection,
    order_frames,
    scan_dicom_files,
    scan_dicom_folder,
    select_series,
)
from tests.inference import synthetic_inputs as syn


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study folder: 2 MR series (one nested deeper, one split over two folders), a CT series, an SR, a
    presentation state, a README, a text file named .dcm, a truncated header, a truncated pixel file, a NIfTI."""
    root = tmp_path_factory.mktemp("study")
    study_uid = generate_uid()
    t1_uid = generate_uid()
    t1 = syn.SeriesTags(study_uid=study_uid, series_uid=t1_uid)
    files = syn.write_series(root / "S1", "axial", n_slices=20, shuffle=True, tags=t1)
    rest = syn.write_series(root / "S1b" / "deeper", "axial", file_prefix="X", tags=t1)
    for f in rest[:20]:  # keep only the slices S1 lacks: the rest of the same series elsewhere in the tree
        f.unlink()
    files += rest[20:]
    files += syn.write_series(root / "S2" / "x" / "y", "sagittal", n_slices=32, tags=syn.SeriesTags(study_uid))
    ct = syn.SeriesTags(study_uid=study_uid, modality="CT", sop_class=syn.CT_IMAGE_STORAGE)
    hounsfield = syn.StoredPixels(slope=1.0, intercept=-1024.0)
    files += syn.write_series(root / "CT", "axial", n_slices=6, tags=ct, stored=hounsfield)
    syn.write_sr(root / "SR" / "report.dcm", study_uid)
    syn.write_presentation_state(root / "PR" / "ps.dcm", study_uid)
    (root / "README.txt").write_text("exported by PACS")
    (root / "key_image.JPG").write_bytes(b"\xff\xd8\xff\xe0 a JPEG export beside the series")
    (root / "old_export.hdr").write_bytes(bytes(348))
    (root / "fake.dcm").write_text("this is not DICOM")
    bad = syn.write_series(root / "BAD", "axial", n_slices=2)
    syn.truncate(bad[0], 0.05)  # header cut short
    syn.truncate(bad[1], 0.7)  # pixel data cut short
    syn.write_nifti(root / "vol.nii.gz", "RAS")
    return root, files


def test_groups_files_by_series_across_folders(study):
    root, _ = study
    scan = scan_dicom_folder(root)
    counts = sorted((s.modality, s.n_slices) for s in scan.series)
    # the BAD folder keeps one series with the pixel-truncated file (decoding fails later, not while scanning)
    assert counts == [("CT", 6), ("MR", 1), ("MR", 32), ("MR", 32)]
    assert [p.name for p in scan.nifti_files] == ["vol.nii.gz"]
    for s in scan.series:
        assert s.series_id.startswith("s-") and len(s.series_id) == 14
        assert s.series_uid not in s.series_id and s.study_uid not in s.series_id


def test_issue_reasons(study):
    root, _ = study
    scan = scan_dicom_folder(root)
    by_name = {i.path.name: i for i in scan.issues}
    assert by_name["report.dcm"].reason == "not an image: Basic Text SR Storage" and not by_name["report.dcm"].is_error
    assert "Presentation State" in by_name["ps.dcm"].reason and not by_name["ps.dcm"].is_error
    assert by_name["README.txt"].reason == "not a DICOM file" and not by_name["README.txt"].is_error
    assert by_name["key_image.JPG"].reason.startswith("PNG/JPEG image: not read in a DICOM/NIfTI run (classify image")
    assert not by_name["key_image.JPG"].is_error
    assert by_name["old_export.hdr"].reason.endswith("not read (convert the pair to .nii.gz)")
    assert "not a DICOM file" in by_name["fake.dcm"].reason and by_name["fake.dcm"].is_error
    assert "truncated or corrupt" in by_name["IM0001.dcm"].reason and by_name["IM0001.dcm"].is_error
    assert len(scan.errors) == 2 and len(scan.skipped) == 5


def test_selection_reports_reasons(study):
    root, _ = study
    selected, skipped = select_series(scan_dicom_folder(root).series, SeriesSelection())
    assert sorted(s.n_slices for s in selected) == [32, 32]
    reasons = sorted(r for _, r in skipped)
    assert reasons == ["1 slice(s) < min_slices=5", "modality CT not in ['MR']"]
    for r in reasons:  # reasons never quote the series description
        assert "SECRETDESC" not in r


def test_selection_description_rules(tmp_path):
    syn.write_series(tmp_path / "a", n_slices=6, tags=syn.SeriesTags(description="t1_mprage_sag"))
    syn.write_series(tmp_path / "b", n_slices=6, tags=syn.SeriesTags(description="AAHead_Scout"))
    series = scan_dicom_folder(tmp_path).series
    sel, skipped = select_series(series, SeriesSelection())
    assert len(sel) == 1 and "exclude_description_regex" in skipped[0][1]
    sel, skipped = select_series(series, SeriesSelection(description_regex="mprage", exclude_description_regex=None))
    assert len(sel) == 1 and skipped[0][1] == "series description does not match description_regex"
    sel, _ = select_series(series, SeriesSelection(modalities=None, exclude_description_regex=None, min_slices=7))
    assert sel == []


def test_localizer_with_several_orientations_is_skipped(tmp_path):
    uid, study = generate_uid(), generate_uid()
    for acq in ("axial", "sagittal", "coronal"):
        syn.write_series(tmp_path / acq, acq, n_slices=3, file_prefix=acq, tags=syn.SeriesTags(study, uid))
    scan = scan_dicom_folder(tmp_path)
    assert len(scan.series) == 1 and scan.series[0].n_slices == 9
    _, skipped = select_series(scan.series, SeriesSelection(exclude_description_regex=None))
    assert skipped[0][1] == "slices have 3 different orientations (multi-planar series, e.g. a localizer)"


def test_two_volumes_in_one_series_are_skipped(tmp_path):
    uid, study = generate_uid(), generate_uid()
    syn.write_series(tmp_path / "e1", n_slices=8, file_prefix="E1", tags=syn.SeriesTags(study, uid))
    syn.write_series(tmp_path / "e2", n_slices=8, file_prefix="E2", tags=syn.SeriesTags(study, uid))
    _, skipped = select_series(scan_dicom_folder(tmp_path).series)
    assert "16 slices share 8 positions" in skipped[0][1]


def test_empty_and_missing_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    scan = scan_dicom_folder(tmp_path / "empty")
    assert scan.series == [] and [i.reason for i in scan.errors] == ["empty folder (no files)"]
    scan = scan_dicom_folder(tmp_path / "nope")
    assert [i.reason for i in scan.errors] == ["input does not exist"]


def test_missing_series_uid_groups_by_folder(tmp_path):
    syn.write_series(tmp_path / "a", n_slices=5, stored=syn.StoredPixels(omit=("SeriesInstanceUID",)))
    syn.write_series(tmp_path / "b", n_slices=5, stored=syn.StoredPixels(omit=("SeriesInstanceUID",)))
    assert sorted(s.n_slices for s in scan_dicom_folder(tmp_path).series) == [5, 5]


def test_scan_files_single_file(tmp_path):
    files = syn.write_series(tmp_path, n_slices=3)
    scan = scan_dicom_files(files[:2])
    assert len(scan.series) == 1 and scan.series[0].n_slices == 2 and scan.root == tmp_path


def _frame(pos, number, ori=(1, 0, 0, 0, 1, 0)):
    return DicomFrameRef(None, None, number, pos, ori, (1.0, 1.0), None, 4, 4)


def test_order_frames_by_projection_on_normal():
    # oblique sagittal-ish normal: order must follow the projection, not z or InstanceNumber
    ori = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # normal = -x
    frames = [_frame((x, 5.0 * i, 0.0), n, ori) for i, (x, n) in enumerate([(3.0, 1), (-2.0, 2), (10.0, 3)])]
    order = order_frames(frames)
    assert order.method == "position"
    assert [f.position[0] for f in order.frames] == [10.0, 3.0, -2.0]
    assert np.all(np.diff(order.positions) > 0)


def test_order_frames_fallbacks():
    frames = [_frame(None, n) for n in (3, 1, 2)]
    assert [f.instance_number for f in order_frames(frames).frames] == [1, 2, 3]
    assert order_frames(frames).method == "instance_number"
    frames = [_frame(None, None) for _ in range(3)]
    assert order_frames(frames).method == "file_order"


def test_is_dicom_file_by_suffix_or_marker(tmp_path):
    from monai_tumorcls.bundle.inputs import detect_input_kind
    from monai_tumorcls.data.readers import is_dicom_file

    (tmp_path / "a.DCM").write_bytes(b"")  # suffix alone is enough for this cheap test
    (tmp_path / "IM0001").write_bytes(b"\0" * 128 + b"DICM" + b"\2\0")
    (tmp_path / "notes.txt").write_text("not dicom")
    assert is_dicom_file(tmp_path / "a.DCM") and is_dicom_file(tmp_path / "IM0001")
    assert not is_dicom_file(tmp_path / "notes.txt") and not is_dicom_file(tmp_path / "missing")
    (tmp_path / "a.DCM").unlink()
    assert detect_input_kind(tmp_path) == "clinical"
    (tmp_path / "IM0001").unlink()
    assert detect_input_kind(tmp_path) == "images"


def test_unknown_sop_class_uid_is_not_echoed(tmp_path, caplog):
    from tests.inference import synthetic_inputs as syn

    uid = "1.2.826.0.1.3680043.9999.42.7"  # a private, unregistered class: a tag value that could identify a site
    ds = syn.base_dataset(uid, "OT", None)
    (tmp_path / "x").mkdir()
    ds.save_as(tmp_path / "x" / "private.dcm", enforce_file_format=True)
    scan = scan_dicom_folder(tmp_path / "x")
    reasons = [issue.reason for issue in scan.issues]
    assert reasons == ["not an image: unknown SOP class"]
    assert uid not in repr(scan) + caplog.text


def test_scan_accounts_for_links_loops_and_unlistable_folders(tmp_path, monkeypatch):
    import os

    syn.write_series(tmp_path / "study" / "ax", "axial", n_slices=6)
    os.symlink(tmp_path / "gone.dcm", tmp_path / "study" / "dangling.dcm")
    os.symlink(tmp_path / "study", tmp_path / "study" / "ax" / "up")  # a loop when links are followed
    (tmp_path / "study" / "locked").mkdir()
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p=".": (_ for _ in ()).throw(PermissionError(13, "denied", os.fspath(p)))
                        if os.fspath(p).endswith("locked") else scandir(p))
    for follow, link_reason, link_error in ((False, "symbolic link to a folder, not followed", False),
                                            (True, "symbolic link loop, not followed", True)):
        scan = scan_dicom_folder(tmp_path / "study", follow_symlinks=follow)
        issues = {os.path.relpath(i.path, tmp_path / "study"): (i.reason, i.is_error) for i in scan.issues}
        assert len(scan.series) == 1 and len(scan.series[0].frames) == 6
        assert issues["dangling.dcm"] == ("dangling or looping symbolic link", True)
        assert issues["ax/up"] == (link_reason, link_error)
        assert issues["locked"][0].startswith("folder cannot be listed") and issues["locked"][1]
