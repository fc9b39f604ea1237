"""Integration: the real DICOM series under <data root>/dicom (fail loudly when the data is missing)."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from monai.data import PydicomReader
from monai.transforms import LoadImaged

from monai_tumorcls.data.readers import SeriesSelection, order_frames, scan_dicom_folder, select_series
from monai_tumorcls.data.readers.dicom import DicomSeriesReader, load_dicom_series
from monai_tumorcls.data.readers.nifti import reorient_to_plane

pytestmark = pytest.mark.integration

SIEMENS, GE = "siemens-trio-b17-t1-mprage-brain", "ge-epi-brain-small"


@pytest.fixture(scope="module")
def scan(dicom_root):
    return scan_dicom_folder(dicom_root)


def _series(scan, folder):
    matches = [s for s in scan.series if {p.parent.name for p in s.files} == {folder}]
    assert len(matches) == 1, f"{folder}: expected exactly one series"
    return matches[0]


def test_each_folder_is_exactly_one_series(scan):
    assert len(scan.series) == 2
    assert _series(scan, SIEMENS).n_slices == 176 and _series(scan, GE).n_slices == 37
    assert scan.errors == []
    assert sorted(i.path.name for i in scan.skipped) == [
        "PROVENANCE.md",
        "SHA256SUMS",
        "SOURCE_README.md",
        "SOURCE_notes.txt",
    ]
    selected, skipped = select_series(scan.series, SeriesSelection())
    assert len(selected) == 2 and skipped == []


@pytest.mark.parametrize("folder,spacing", [(SIEMENS, 1.0), (GE, 3.8)])
def test_positions_strictly_monotonic_and_uniform(scan, folder, spacing):
    order = order_frames(_series(scan, folder).frames)
    assert order.method == "position" and order.duplicate_positions == 0
    gaps = np.diff(order.positions)
    assert np.all(gaps > 0)
    np.testing.assert_allclose(gaps, spacing, atol=1e-3)
    numbers = [f.instance_number for f in order.frames]
    assert numbers == sorted(numbers) or numbers == sorted(numbers, reverse=True)


def test_ge_axial_slices_are_the_stored_images(scan):
    s = _series(scan, GE)
    vol = load_dicom_series(s, plane="axial")
    assert vol.array.shape == (64, 64, 37) and not vol.meta["resliced"] and vol.meta["acquisition_plane"] == "axial"
    for k in (0, 18, 36):
        src = vol.meta["slice_sources"][k]
        np.testing.assert_array_equal(vol.array[:, :, k], pydicom.dcmread(src["file"]).pixel_array.astype(np.float32))
    z = [vol.meta["slice_sources"][k]["position_lps"][2] for k in range(37)]
    assert np.all(np.diff(z) > 0)  # inferior -> superior


def test_siemens_sagittal_is_resliced_to_axial(scan):
    vol = load_dicom_series(_series(scan, SIEMENS), plane="axial")
    m = vol.meta
    assert m["acquisition_plane"] == "sagittal" and m["resliced"] and m["slice_plane"] == "axial"
    assert vol.array.shape == (256, 176, 256)  # rows A->P, columns R->L, slices I->S
    assert 5.0 < m["obliquity_deg"] < 7.0
    np.testing.assert_allclose(m["spacing"], [1.0, 1.0, 1.0], atol=1e-3)
    sag = load_dicom_series(_series(scan, SIEMENS), plane="acquired")
    assert sag.array.shape == (256, 256, 176) and not sag.meta["resliced"]
    # same voxels, different layout: axial[r, c, k] == sagittal[255 - k, r, c]
    np.testing.assert_array_equal(vol.array[:, :, 128], sag.array[255 - 128, :, :])


@pytest.mark.parametrize("folder", [SIEMENS, GE])
def test_same_image_as_monai_pydicomreader(dicom_root, scan, folder):
    """MONAI stacks by InstanceNumber (the Siemens numbers run against the slice normal), we stack along the
    normal: the voxel order may differ along k, but both must describe the same image in world space."""
    ours = load_dicom_series(_series(scan, folder), plane=None)
    reader = PydicomReader()
    with warnings.catch_warnings():  # MONAI warns about the non-DICOM files in the Siemens folder
        warnings.simplefilter("ignore")
        arr, meta = reader.get_data(reader.read(str(dicom_root / folder)))
    a, aff_a, _ = reorient_to_plane(ours.array, ours.meta["affine"], "axial")
    b, aff_b, _ = reorient_to_plane(np.asarray(arr, dtype=np.float32), meta["affine"], "axial")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(aff_a, aff_b, atol=1e-3)


def test_loadimaged_and_no_identifying_meta(dicom_root):
    out = LoadImaged(keys="image", reader=DicomSeriesReader(plane="axial"), image_only=True)(
        {"image": str(dicom_root / GE)}
    )
    img = out["image"]
    assert tuple(img.shape) == (64, 64, 37)
    text = repr(dict(img.meta))
    for folder in (SIEMENS, GE):
        ds = pydicom.dcmread(next((dicom_root / folder).glob("*.dcm")), stop_before_pixels=True)
        for value in (str(ds.PatientName), str(ds.get("PatientID", "")), ds.StudyInstanceUID, ds.SeriesInstanceUID):
            if value:
                assert value not in text
