"""DicomSeriesReader / load_dicom_series on synthetic series built in code (see tests/inference/synthetic_inputs.py)."""

from __future__ import annotations

import numpy as np
import pytest
from monai.data import PydicomReader
from monai.transforms import EnsureChannelFirstd, LoadImage, LoadImaged
from pydicom.uid import JPEG2000Lossless, RLELossless

from monai_tumorcls.data.readers import SeriesSelection, scan_dicom_folder
from monai_tumorcls.data.readers.dicom import DicomSeriesReader, load_dicom_series
from monai_tumorcls.data.readers.errors import ImageReadError
from tests.inference import synthetic_inputs as syn

E = syn.expected_axial()


def _load(folder, plane="axial"):
    scan = scan_dicom_folder(folder)
    assert len(scan.series) == 1, scan
    return load_dicom_series(scan.series[0], plane=plane)


@pytest.mark.parametrize("acq", list(syn.ACQUISITIONS))
def test_every_acquisition_gives_the_same_axial_volume(tmp_path, acq):
    syn.write_series(tmp_path / acq, acq, shuffle=True)  # InstanceNumber/file order shuffled vs position
    vol = _load(tmp_path / acq)
    assert vol.meta["ordering"] == "position"
    assert vol.meta["slice_plane"] == "axial" and vol.meta["axcodes"] == "PLS"
    assert vol.meta["resliced"] == (acq in ("sagittal", "coronal"))
    assert vol.meta["acquisition_plane"] == {"sagittal": "sagittal", "coronal": "coronal"}.get(acq, "axial")
    np.testing.assert_array_equal(vol.array, E)
    # the marker (patient right, anterior, superior) is at the top-left of the superior slices
    top = vol.array[:, :, 28]
    assert (
        (top[:9, :9] == syn.MARKER).all() and not (top[:, 9:] == syn.MARKER).any() and not (top[9:] == syn.MARKER).any()
    )
    assert not (vol.array[:, :, 10] == syn.MARKER).any()
    # affine: voxel (0, 0, 0) is the anterior-right-inferior corner, RAS
    np.testing.assert_allclose(vol.meta["affine"][:3, 3], [19.375, 19.375, -19.375], atol=1e-6)
    np.testing.assert_allclose(np.abs(vol.meta["affine"][:3, :3]), np.eye(3)[[1, 0, 2]] * syn.SPACING, atol=1e-6)


def test_sagittal_kept_in_acquired_plane(tmp_path):
    syn.write_series(tmp_path / "sag", "sagittal")
    vol = _load(tmp_path / "sag", plane="acquired")
    assert vol.meta["slice_plane"] == "sagittal" and not vol.meta["resliced"]
    ph = syn.phantom()
    # sagittal display: rows superior->inferior, columns anterior->posterior, slices right->left
    r, c, k = np.meshgrid(np.arange(32), np.arange(32), np.arange(32), indexing="ij")
    np.testing.assert_array_equal(vol.array, ph[k, c, 31 - r])
    assert (vol.array[:9, :9, :9] == syn.MARKER).all()


def test_native_layout_matches_monai_pydicomreader(tmp_path):
    syn.write_series(tmp_path / "ax", "axial")
    ours = _load(tmp_path / "ax", plane=None)
    reader = PydicomReader()
    arr, meta = reader.get_data(reader.read(str(tmp_path / "ax")))
    np.testing.assert_array_equal(ours.array, np.asarray(arr, dtype=np.float32))
    np.testing.assert_allclose(ours.meta["affine"], meta["affine"], atol=1e-5)


def test_rescale_slope_intercept(tmp_path):
    syn.write_series(tmp_path / "s", shuffle=True, stored=syn.StoredPixels(slope=0.5, intercept=-100.0))
    np.testing.assert_array_equal(_load(tmp_path / "s").array, E)


def test_monochrome1_inverted(tmp_path):
    syn.write_series(tmp_path / "m1", stored=syn.StoredPixels(monochrome1=True))
    vol = _load(tmp_path / "m1")
    assert vol.meta["monochrome1"]
    np.testing.assert_array_equal(vol.array, E)


def test_enhanced_multiframe_shuffled_frames(tmp_path):
    syn.write_enhanced_multiframe(tmp_path / "mf" / "enhanced.dcm", shuffle=True)
    scan = scan_dicom_folder(tmp_path / "mf")
    assert scan.series[0].n_slices == 32 and len(scan.series[0].files) == 1
    vol = load_dicom_series(scan.series[0])
    np.testing.assert_array_equal(vol.array, E)
    assert [s["frame"] for s in vol.meta["slice_sources"]] != list(range(32))  # frames were re-ordered


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless], ids=["rle", "jpeg2000"])
def test_compressed_transfer_syntaxes(tmp_path, syntax):
    syn.write_series(tmp_path / "c", "sagittal", stored=syn.StoredPixels(compress=syntax))
    scan = scan_dicom_folder(tmp_path / "c")
    assert scan.series[0].transfer_syntaxes == {syntax.name}
    np.testing.assert_array_equal(load_dicom_series(scan.series[0]).array, E)


def test_jpeg_lossless_via_gdcm(tmp_path):
    gdcm = pytest.importorskip("gdcm", reason="python-gdcm is a pinned dependency; install it")
    files = syn.write_series(tmp_path / "raw", "axial", n_slices=8)
    out = tmp_path / "jpegll"
    out.mkdir()
    for f in files:
        r = gdcm.ImageReader()
        r.SetFileName(str(f))
        assert r.Read()
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGLosslessProcess14_1))
        change.SetInput(r.GetImage())
        assert change.Change()
        w = gdcm.ImageWriter()
        w.SetFileName(str(out / f.name))
        w.SetFile(r.GetFile())
        w.SetImage(change.GetOutput())
        assert w.Write()
    scan = scan_dicom_folder(out)
    assert "JPEG Lossless" in next(iter(scan.series[0].transfer_syntaxes))
    np.testing.assert_array_equal(load_dicom_series(scan.series[0]).array, E[:, :, :8])


def test_missing_optional_tags(tmp_path):
    optional = ("SliceThickness", "SpacingBetweenSlices", "SeriesDescription", "PixelSpacing", "InstanceNumber")
    syn.write_series(tmp_path / "o", "coronal", shuffle=True, stored=syn.StoredPixels(omit=optional))
    vol = _load(tmp_path / "o")
    assert vol.meta["ordering"] == "position"
    np.testing.assert_array_equal(vol.array, E)
    # PixelSpacing defaults to 1 mm in-plane (coronal R-L and S-I); A-P comes from the slice positions
    np.testing.assert_allclose(vol.meta["spacing"], [syn.SPACING, 1.0, 1.0])


def test_missing_position_falls_back_to_instance_number(tmp_path):
    syn.write_series(tmp_path / "p", "axial", stored=syn.StoredPixels(omit=("ImagePositionPatient",)))
    vol = _load(tmp_path / "p")
    assert vol.meta["ordering"] == "instance_number"
    np.testing.assert_array_equal(vol.array, E)


def test_missing_orientation_keeps_images_as_stored(tmp_path):
    syn.write_series(tmp_path / "q", "sagittal", stored=syn.StoredPixels(omit=("ImageOrientationPatient",)))
    vol = _load(tmp_path / "q", plane="axial")
    assert vol.meta["slice_plane"] == "unknown" and not vol.meta["orientation_known"]
    first = syn.slice_geometry("sagittal", 0)[0]
    np.testing.assert_array_equal(vol.array[:, :, 0], first)  # not resliced: the stored sagittal image


def test_loadimaged_on_folder_and_file_list(tmp_path):
    files = syn.write_series(tmp_path / "ax", "sagittal", shuffle=True)
    loader = LoadImaged(keys="image", reader=DicomSeriesReader(plane="axial"), image_only=True)
    out = EnsureChannelFirstd(keys="image")(loader({"image": str(tmp_path / "ax")}))
    img = out["image"]
    assert tuple(img.shape) == (1, 32, 32, 32)
    np.testing.assert_array_equal(img[0].numpy(), E)
    np.testing.assert_allclose(img.affine.numpy()[:3, 3], [19.375, 19.375, -19.375], atol=1e-5)
    assert img.meta["slice_plane"] == "axial"
    img2 = LoadImage(reader=DicomSeriesReader(), image_only=True)([str(f) for f in files[::-1]])
    np.testing.assert_array_equal(img2.numpy(), E)


def test_reader_meta_has_no_identifying_values(tmp_path):
    files = syn.write_series(tmp_path / "ax")
    vol = _load(tmp_path / "ax")
    text = repr(vol.meta)
    for s in syn.identifying_strings(files):
        assert s not in text


def test_reader_rejects_several_series_unless_selected(tmp_path):
    study = "1.2.826.0.1.3680043.8.498.1"
    syn.write_series(tmp_path / "mix" / "a", "axial", tags=syn.SeriesTags(study_uid=study))
    ct = syn.SeriesTags(study_uid=study, modality="CT", sop_class=syn.CT_IMAGE_STORAGE)
    syn.write_series(tmp_path / "mix" / "b", "axial", tags=ct)
    reader = DicomSeriesReader()
    with pytest.raises(ImageReadError, match="2 image series found"):  # read() defers the error to get_data()
        reader.get_data(reader.read(tmp_path / "mix"))
    series = DicomSeriesReader(selection=SeriesSelection()).read(tmp_path / "mix")
    assert series.modality == "MR"


def test_truncated_pixel_data_raises_or_is_dropped(tmp_path):
    files = syn.write_series(tmp_path / "t", "axial")
    syn.truncate(files[3], 0.7)
    scan = scan_dicom_folder(tmp_path / "t")
    with pytest.raises(ImageReadError, match="pixel data"):
        load_dicom_series(scan.series[0])
    vol = load_dicom_series(scan.series[0], drop_bad_files=True)
    assert vol.array.shape == (32, 32, 31) and len(vol.dropped) == 1 and vol.dropped[0][0] == files[3]
    assert not vol.meta["uniform_spacing"]
    with pytest.raises(ImageReadError) as err:
        LoadImage(reader=DicomSeriesReader(), image_only=True)(str(tmp_path / "t"))
    assert isinstance(err.value, ValueError) and err.value.filename == str(files[3])


def test_verify_suffix(tmp_path):
    files = syn.write_series(tmp_path / "v", n_slices=2)
    (tmp_path / "x.txt").write_text("not dicom")
    r = DicomSeriesReader()
    assert r.verify_suffix(str(tmp_path / "v")) and r.verify_suffix(str(files[0]))
    assert not r.verify_suffix(str(tmp_path / "x.txt"))
    with pytest.raises(ValueError):
        DicomSeriesReader(plane="oblique")


def test_load_image_reports_the_dicom_problem(tmp_path):
    """Through MONAI's LoadImage, a folder without DICOM gives the reader's own error naming the folder and why."""
    from monai.transforms import LoadImage

    from monai_tumorcls.data.readers.dicom import DicomSeriesReader
    from monai_tumorcls.data.readers.errors import ImageReadError

    (tmp_path / "x.dcm").write_text("not dicom")
    with pytest.raises(ImageReadError, match="no DICOM image series found"):
        LoadImage(reader=DicomSeriesReader(), image_only=True)(str(tmp_path))


def test_declared_series_size_is_capped_before_decoding(tmp_path):
    syn.write_series(tmp_path / "ax", "axial")
    series = scan_dicom_folder(tmp_path / "ax").series[0]
    with pytest.raises(ImageReadError, match=r"declares 32x32x\d+ = [\d,]+ voxels, more than max_voxels=1,000"):
        load_dicom_series(series, max_voxels=1000)
    assert load_dicom_series(series).array.size > 1000
