"""Labelled training slices cut from volumes: same slices as inference, patient-level hold-out, margins."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_tumorcls.data import (
    LabelledVolume,
    SHARED_LABELLED_VOLUMES,
    load_display_volume,
    slice_flags,
    volume_groups,
    volume_slice_datalist,
    volume_slice_items,
)
from monai_tumorcls.data.readers.errors import ImageReadError
from tests.inference import synthetic_inputs as syn

CLASSES = ["notumor", "tumor"]


def _label_map(path, slices=(14, 15, 16), shape=None):
    """RAS label map on the phantom's grid with tumour voxels on the given axial slices."""
    img = syn.nifti_image("RAS")
    lab = np.zeros(shape or img.shape, dtype=np.uint8)
    for k in slices:
        lab[10:14, 10:14, k] = 1
    nib.save(nib.Nifti1Image(lab, img.affine), str(path))
    return path


@pytest.fixture
def labelled(tmp_path):
    syn.write_nifti(tmp_path / "p1" / "t1.nii.gz", "RAS")
    _label_map(tmp_path / "p1" / "seg.nii.gz")
    syn.write_series(tmp_path / "healthy" / "dcm", "axial")
    return tmp_path, (
        LabelledVolume("p1/t1.nii.gz", "patient-1", "p1/seg.nii.gz", "synthetic"),
        LabelledVolume("healthy/dcm", "volunteer"),
    )


def test_slice_flags_margin_and_healthy():
    lab = np.zeros((4, 4, 12))
    lab[1, 1, 5:7] = 1
    flags = slice_flags(lab, 12, margin=2)
    assert flags.tolist() == [0, 0, 0, -1, -1, 1, 1, -1, -1, 0, 0, 0]
    assert slice_flags(lab, 12, margin=0).tolist() == [0] * 5 + [1, 1] + [0] * 5
    # slices with some tumour, but less than min_voxels, are edge slices: left out, never tumour-free
    assert slice_flags(lab, 12, min_voxels=2, margin=0).tolist() == [0] * 5 + [-1, -1] + [0] * 5
    assert slice_flags(lab, 12, min_voxels=2, margin=1).tolist() == [0] * 4 + [-1] * 4 + [0] * 4
    assert slice_flags(None, 3).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="does not match 11"):
        slice_flags(lab, 11)


def test_nifti_items_are_the_inference_slices_with_labels(labelled):
    root, (vol, _) = labelled
    items = volume_slice_items(vol, root, CLASSES, "tumor")
    # phantom signal on slices 4..31 (the marker reaches 31); tumour 14..16; 12, 13, 17, 18 within the margin
    assert [it["slice_index"] for it in items] == [k for k in range(4, 32) if k not in (12, 13, 17, 18)]
    tumour = [it["slice_index"] for it in items if it["label"] == 1]
    assert tumour == [14, 15, 16]
    assert all(it["class_name"] == ("tumor" if it["label"] == 1 else "notumor") for it in items)
    assert {it["group"] for it in items} == {"patient-1"} and items[0]["volume"] == "p1/t1.nii.gz"
    expected = syn.expected_axial()
    for it in items:
        img = it["image"]
        assert img.shape == (1, 32, 32) and img.dtype == torch.float32
        np.testing.assert_array_equal(img[0].numpy(), expected[:, :, it["slice_index"]])
        np.testing.assert_allclose(img.affine.diagonal()[:2].numpy(), [syn.SPACING, syn.SPACING])


def test_dicom_healthy_series_gives_tumour_free_slices_like_nifti(labelled):
    root, (nii, dcm) = labelled
    items = volume_slice_items(dcm, root, CLASSES, "tumor")
    assert len(items) == 28 and {it["label"] for it in items} == {0}
    ref = {it["slice_index"]: it["image"] for it in volume_slice_items(LabelledVolume(nii.image, "x"), root, CLASSES, "tumor")}
    for it in items:
        np.testing.assert_array_equal(it["image"].numpy(), ref[it["slice_index"]].numpy())


def test_four_class_labels_and_class_checks(labelled):
    root, (vol, _) = labelled
    names = ["glioma", "meningioma", "notumor", "pituitary"]
    items = volume_slice_items(vol, root, names, "glioma")
    assert {it["label"] for it in items} == {0, 2}
    with pytest.raises(ValueError, match="'tumor' is not one of"):
        volume_slice_items(vol, root, names, "tumor")


def test_datalist_holds_out_whole_patients(labelled):
    root, vols = labelled
    both = volume_slice_datalist(vols, root, CLASSES, "tumor")
    assert {it["group"] for it in both} == {"patient-1", "volunteer"}
    held = volume_slice_datalist(vols, root, CLASSES, "tumor", holdout_groups=["patient-1"])
    assert {it["group"] for it in held} == {"volunteer"} and len(held) == 28
    with pytest.raises(ValueError, match="patient-2"):
        volume_slice_datalist(vols, root, CLASSES, "tumor", holdout_groups=["patient-2"])


def test_bad_volumes_name_the_problem(tmp_path, labelled):
    root, (vol, _) = labelled
    _label_map(root / "p1" / "bad_seg.nii.gz", shape=(32, 32, 30))
    with pytest.raises(ValueError, match="does not match image"):
        volume_slice_items(LabelledVolume(vol.image, "p", "p1/bad_seg.nii.gz"), root, CLASSES, "tumor")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="expected one selectable MR series, found 0"):
        load_display_volume(tmp_path / "empty")
    (tmp_path / "broken.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(ImageReadError, match="broken.nii.gz"):
        volume_slice_items(LabelledVolume(str(tmp_path / "broken.nii.gz"), "p"), None, CLASSES, "tumor")


def test_shared_volume_registry():
    groups = volume_groups(SHARED_LABELLED_VOLUMES)
    assert groups == ["TCGA-02-0003", "TCGA-02-0006", "TCGA-FG-6692", "siemens-volunteer"]
    assert [v.label is None for v in SHARED_LABELLED_VOLUMES].count(True) == 1  # the healthy volunteer
