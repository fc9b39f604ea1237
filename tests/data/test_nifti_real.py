"""Integration: the real NIfTI volumes under <data root>/nifti (fail loudly when the data is missing)."""

from __future__ import annotations

import gzip
import re

import nibabel as nib
import numpy as np
import pytest

from monai_tumorcls.data.readers.nifti import load_nifti_volume
from monai_tumorcls.apps.validation import load_slice_labels

pytestmark = pytest.mark.integration

BRATS = "brats2023-gli/BraTS-GLI-00001-000/BraTS-GLI-00001-000-{}.nii.gz"
LGG_BET = "tcga-lgg-TCGA-FG-6692-brats-space/OtherEXampleFromTCIA_{}_bet.nii.gz"
LGG_SEG = "tcga-lgg-TCGA-FG-6692-brats-space/segmentation_predicted/fusion_mav.nii.gz"
GBM = "pyradiomics-tcga-gbm/converted_nifti/brain{}_{}.nii.gz"


def _display_from_canonical(path) -> np.ndarray:
    """Independent derivation with nibabel.as_closest_canonical: RAS -> rows A->P, cols R->L, slices I->S."""
    canon = nib.as_closest_canonical(nib.load(str(path)))
    return np.asarray(canon.get_fdata(dtype=np.float32))[::-1, ::-1, :].transpose(1, 0, 2)


def test_every_volume_loads_in_axial_layout(nifti_root):
    files = sorted(nifti_root.rglob("*.nii.gz"))
    assert len(files) == 22
    for f in files:
        vol, meta = load_nifti_volume(f, plane="axial")
        assert vol.ndim == 3 and vol.dtype == np.float32 and np.isfinite(vol).all(), f.name
        assert meta["axcodes"] == "PLS" and meta["acquisition_plane"] == "axial" and not meta["resliced"], f.name
        assert nib.aff2axcodes(meta["affine"]) == ("P", "L", "S"), f.name
        assert vol.max() > vol.min(), f.name


@pytest.mark.parametrize(
    "rel",
    [
        BRATS.format("t1c"),
        LGG_BET.format("fla"),
        GBM.format(1, "image"),
        "tcga-lgg-TCGA-FG-6692-raw/T1_AX_OtherEXampleTCIA_TCGA-FG-6692_Si_TCGA-FG-6692_T1_AX_SE_10_se2d1_t1.nii.gz",
    ],
)
def test_matches_nibabel_closest_canonical(nifti_root, rel):
    vol, _ = load_nifti_volume(nifti_root / rel, plane="axial")
    np.testing.assert_array_equal(vol, _display_from_canonical(nifti_root / rel))


def _read_nrrd(path):
    """Minimal NRRD reader for the pyradiomics files (gzip, little-endian short/uchar, 3D)."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    h = dict(line.split(": ", 1) for line in head.decode().splitlines()[1:] if ": " in line)
    sizes = [int(s) for s in h["sizes"].split()]
    dirs = [[float(v) for v in d.split(",")] for d in re.findall(r"\(([^)]*)\)", h["space directions"])]
    dtype = {"short": "<i2", "unsigned char": "<u1", "uchar": "<u1"}[h["type"]]
    data = np.frombuffer(gzip.decompress(body), dtype=dtype).reshape(sizes[::-1]).transpose(2, 1, 0)
    return data, np.array(dirs), h["space"]


@pytest.mark.parametrize("case", [1, 2])
def test_converted_nifti_matches_original_lps_nrrd(nifti_root, case):
    data, dirs, space = _read_nrrd(nifti_root / "pyradiomics-tcga-gbm" / f"brain{case}_image.nrrd")
    assert space == "left-posterior-superior"
    # in these files axis 0 runs to the patient's left, axis 1 to anterior (-y in LPS), axis 2 superior
    assert dirs[0][0] > 0 and dirs[1][1] < 0 and dirs[2][2] > 0
    expected = data[:, ::-1, :].transpose(1, 0, 2)  # rows A->P, columns R->L, slices I->S
    vol, _ = load_nifti_volume(nifti_root / GBM.format(case, "image"), plane="axial")
    np.testing.assert_array_equal(vol, expected.astype(np.float32))


@pytest.mark.parametrize(
    "image,label",
    [
        (GBM.format(1, "image"), GBM.format(1, "label")),
        (GBM.format(2, "image"), GBM.format(2, "label")),
        (LGG_BET.format("t1c"), LGG_SEG),
        (LGG_BET.format("fla"), LGG_SEG),
    ],
)
def test_labels_align_with_images(nifti_root, image, label):
    img, mi = load_nifti_volume(nifti_root / image)
    lab, ml = load_nifti_volume(nifti_root / label)
    assert img.shape == lab.shape
    np.testing.assert_allclose(mi["affine"], ml["affine"], atol=1e-4)
    tumour = lab > 0
    assert tumour.sum() > 100
    assert (img[tumour] > 0).mean() > 0.99  # inside the head / brain mask
    assert img[tumour].mean() > img[img > 0].mean()  # enhancing / FLAIR-bright tumour is brighter than average
    flags = load_slice_labels(nifti_root / label)
    idx = np.flatnonzero(flags)
    assert len(flags) == img.shape[2] and np.all(np.diff(idx) == 1)  # one contiguous tumour block of slices


def test_brats_modalities_share_the_grid(nifti_root):
    metas = [load_nifti_volume(nifti_root / BRATS.format(m))[1] for m in ("t1c", "t1n", "t2f", "t2w")]
    for m in metas[1:]:
        np.testing.assert_allclose(m["affine"], metas[0]["affine"])
        assert tuple(m["spatial_shape"]) == (240, 240, 155)
