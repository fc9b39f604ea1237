"""NiftiSliceReader: canonical slice orientation for RAS, LPS and permuted-axes volumes, and bad files."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from monai.transforms import EnsureChannelFirstd, LoadImaged

from monai_tumorcls.data.readers.errors import ImageReadError
from monai_tumorcls.data.readers.nifti import (
    PLANE_AXCODES,
    NiftiSliceReader,
    acquisition_plane,
    load_nifti_volume,
    reorient_to_plane,
)
from tests.inference import synthetic_inputs as syn

E = syn.expected_axial()


@pytest.mark.parametrize("layout", ["RAS", "LPS", "permuted"])
def test_axial_slices_are_display_oriented(tmp_path, layout):
    path = syn.write_nifti(tmp_path / f"{layout}.nii.gz", layout)
    vol, meta = load_nifti_volume(path, plane="axial")
    assert meta["axcodes"] == "PLS" and meta["slice_plane"] == "axial"
    assert meta["resliced"] == (layout == "permuted")
    np.testing.assert_array_equal(vol, E)
    # marker = patient right + anterior + superior -> top-left of the superior slices only
    for k in range(32):
        hit = np.argwhere(vol[:, :, k] == syn.MARKER)
        if k >= 23:
            assert hit.min(axis=0).tolist() == [0, 0] and hit.max(axis=0).tolist() == [8, 8]
        else:
            assert hit.size == 0
    # affine maps voxel (0, 0, 0) to the anterior-right-inferior corner and keeps RAS semantics
    np.testing.assert_allclose(meta["affine"][:3, 3], [19.375, 19.375, -19.375], atol=1e-6)
    assert nib.aff2axcodes(meta["affine"]) == tuple(PLANE_AXCODES["axial"])


@pytest.mark.parametrize("layout", ["RAS", "LPS", "permuted"])
def test_coronal_and_sagittal_layouts(tmp_path, layout):
    path = syn.write_nifti(tmp_path / f"{layout}.nii", layout)
    ph = syn.phantom()  # [ix -> L, iy -> P, iz -> S]
    r, c, k = np.meshgrid(np.arange(32), np.arange(32), np.arange(32), indexing="ij")
    cor, _ = load_nifti_volume(path, plane="coronal")  # rows S->I, cols R->L, slices P->A
    np.testing.assert_array_equal(cor, ph[c, 31 - k, 31 - r])
    sag, _ = load_nifti_volume(path, plane="sagittal")  # rows S->I, cols A->P, slices R->L
    np.testing.assert_array_equal(sag, ph[k, c, 31 - r])


def test_acquired_plane_keeps_stored_slices(tmp_path):
    img = syn.nifti_image("permuted")  # third array axis runs posterior->anterior: a coronal stack
    assert acquisition_plane(img.affine) == "coronal"
    out, _, info = reorient_to_plane(np.asarray(img.dataobj), img.affine, "acquired")
    assert info.plane == "coronal" and not info.resliced and info.slice_flipped is False
    assert info.source_slice(3, 32) == 3


def test_loadimaged_with_reader(tmp_path):
    path = syn.write_nifti(tmp_path / "lps.nii.gz", "LPS")
    data = LoadImaged(keys="image", reader=NiftiSliceReader(plane="axial"), image_only=True)({"image": str(path)})
    data = EnsureChannelFirstd(keys="image")(data)
    img = data["image"]
    assert tuple(img.shape) == (1, 32, 32, 32)
    np.testing.assert_array_equal(img[0].numpy(), E)
    np.testing.assert_allclose(img.meta["original_affine"], syn.nifti_image("LPS").affine)
    assert img.meta["slice_plane"] == "axial" and img.meta["acquisition_plane"] == "axial"


def test_two_files_stack_as_channels(tmp_path):
    a = syn.write_nifti(tmp_path / "a.nii.gz", "RAS")
    b = syn.write_nifti(tmp_path / "b.nii.gz", "RAS")
    reader = NiftiSliceReader()
    arr, meta = reader.get_data(reader.read([a, b]))
    assert arr.shape == (2, 32, 32, 32) and meta["original_channel_dim"] == 0


def test_bad_volumes(tmp_path):
    import gzip

    zero = tmp_path / "zero.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((0, 4, 4), np.int16), np.eye(4)), str(zero))
    with pytest.raises(ImageReadError, match="zero-size volume"):
        load_nifti_volume(zero)
    four = tmp_path / "4d.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.int16), np.eye(4)), str(four))
    with pytest.raises(ImageReadError, match="only single 3D volumes"):
        load_nifti_volume(four)
    text = tmp_path / "text.nii"
    text.write_text("not a nifti")
    with pytest.raises(ImageReadError, match="not a readable NIfTI") as err:
        load_nifti_volume(text)
    assert err.value.filename == str(text) and str(err.value).startswith(str(text) + ": ")
    cut = tmp_path / "cut.nii.gz"
    raw = gzip.compress(nib.Nifti1Image(np.ones((32, 32, 32), np.float32), np.eye(4)).to_bytes())
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageReadError):
        load_nifti_volume(cut)


def test_singleton_time_axis_and_2d_and_nonfinite(tmp_path):
    p = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 5, 6, 1), np.float32), np.eye(4)), str(p))
    assert load_nifti_volume(p)[0].shape == (5, 4, 6)
    p2 = tmp_path / "2d.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(12, dtype=np.float32).reshape(3, 4), np.eye(4)), str(p2))
    vol, meta = load_nifti_volume(p2, plane="axial")
    assert vol.shape == (4, 3, 1) and meta["n_slices"] == 1
    p3 = tmp_path / "nan.nii.gz"
    data = np.ones((4, 4, 4), np.float32)
    data[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(p3))
    vol, meta = load_nifti_volume(p3)
    assert np.isfinite(vol).all() and meta["nonfinite_voxels"] == 1


def test_missing_qform_sform_is_flagged(tmp_path):
    img = nib.Nifti1Image(np.ones((4, 4, 4), np.int16), None)
    img.header.set_qform(None, code=0)
    img.header.set_sform(None, code=0)
    p = tmp_path / "nocode.nii"
    nib.save(img, str(p))
    _, meta = load_nifti_volume(p)
    assert meta["orientation_known"] is False


def test_reader_arguments():
    assert NiftiSliceReader().verify_suffix("x.nii.gz") and not NiftiSliceReader().verify_suffix("x.dcm")
    with pytest.raises(ValueError):
        NiftiSliceReader(plane="transverse")
    with pytest.raises(ValueError):
        reorient_to_plane(np.zeros((2, 2)), np.eye(4))


def test_load_image_reports_the_nifti_problem(tmp_path):
    """Through MONAI's LoadImage, a corrupt file gives the reader's own error (not "cannot find a suitable reader")."""
    from monai.transforms import LoadImage

    from monai_tumorcls.data.readers.errors import ImageReadError
    from monai_tumorcls.data.readers.nifti import NiftiSliceReader

    bad = tmp_path / "bad.nii.gz"
    bad.write_text("not a nifti file")
    with pytest.raises(ImageReadError, match="bad.nii.gz: not a readable NIfTI file"):
        LoadImage(reader=NiftiSliceReader(), image_only=True)(str(bad))


def test_declared_size_is_capped_before_decoding(tmp_path):
    from monai_tumorcls.data.readers.errors import DEFAULT_MAX_VOXELS
    from monai_tumorcls.data.readers.nifti import load_nifti_volume

    path = tmp_path / "big.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 8), np.uint8), np.eye(4)), str(path))
    with pytest.raises(ImageReadError, match=r"big.nii.gz.*declares 16x16x8 = 2,048 voxels, more than max_voxels=1,000"):
        load_nifti_volume(path, max_voxels=1000)
    assert load_nifti_volume(path)[0].shape[2] == 8  # the default admits clinical volumes
    assert 512 * 512 * 380 <= DEFAULT_MAX_VOXELS < 1024 * 1024 * 128  # ... and refuses the 4 GB header bomb
    # a header declaring more than the file holds: refused from the header alone, whatever the file size
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4))
    img.header.set_data_shape((1024, 1024, 128))
    bomb = tmp_path / "bomb.nii"
    bomb.write_bytes(img.header.binaryblock + b"\0" * 4 + b"\0" * 64)
    with pytest.raises(ImageReadError, match="more than max_voxels"):
        load_nifti_volume(bomb)


@pytest.mark.parametrize("klass", [nib.Nifti1Image, nib.Nifti2Image])
def test_a_suffix_that_lies_about_compression_is_read_by_content(tmp_path, klass):
    import gzip

    volume = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
    raw = klass(volume, np.diag([2.0, 2.0, 3.0, 1.0])).to_bytes()
    expected, expected_meta = None, None
    for name, content in [("right.nii", raw), ("unpacked.nii.gz", raw), ("packed.nii", gzip.compress(raw))]:
        (tmp_path / name).write_bytes(content)
        data, meta = load_nifti_volume(tmp_path / name, plane=None)
        if expected is None:
            expected, expected_meta = data, meta
        np.testing.assert_array_equal(data, expected)
        np.testing.assert_allclose(meta["affine"], expected_meta["affine"])
    np.testing.assert_array_equal(expected, volume)

    cut = tmp_path / "cut_packed.nii"  # a truncated gzip named .nii: the data error, not a misleading one
    noise = np.random.default_rng(0).random((32, 32, 32), dtype=np.float32)  # incompressible: half the bytes, half
    packed = gzip.compress(klass(noise, np.eye(4)).to_bytes())
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt gzip data"):
        load_nifti_volume(cut)

    bomb = tmp_path / "bomb.nii"  # a gzip named .nii declaring more voxels than allowed: refused before inflating
    bomb.write_bytes(gzip.compress(klass(np.zeros((64, 64, 64), np.uint8), np.eye(4)).to_bytes()))
    with pytest.raises(ImageReadError, match="voxels"):
        load_nifti_volume(bomb, max_voxels=1000)
