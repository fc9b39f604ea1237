"""Exit status of inference as documented, for image, DICOM and NIfTI runs alike: 0 every input classified, 1 some
inputs failed, 2 nothing classified. An image run where no file was classified (all blank, all unreadable) used to end
with 1, as if some had been."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from tests.inference import synthetic_inputs as syn
from tests.security.runs import run_inference, write_checkpoint, write_image


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


def _images_ok(folder):
    write_image(folder / "a.png")
    write_image(folder / "b.jpg", seed=1)


def _images_some_fail(folder):
    write_image(folder / "a.png")
    (folder / "b.jpg").write_bytes(b"not an image")


def _images_all_blank(folder):
    for name in ("a.png", "b.jpg"):
        Image.fromarray(np.full((64, 64), 90, np.uint8)).save(folder / name)


def _images_none_readable(folder):
    (folder / "random.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    (folder / "empty.png").write_bytes(b"")
    os.symlink("nowhere", folder / "dangling.jpg")


def _nifti_ok(folder):
    return syn.write_nifti(folder / "t1.nii.gz", "RAS")


def _nifti_blank(folder):
    path = folder / "blank.nii.gz"
    nib.save(nib.Nifti1Image(np.full((16, 16, 8), 7, np.int16), np.eye(4)), str(path))
    return path


def _dicom_some_fail(folder):
    files = syn.write_series(folder / "series", "axial", n_slices=8)
    syn.truncate(files[3], 0.5)  # its pixels are left out: an error, the series still decided


def _dicom_nothing(folder):
    (folder / "series").mkdir()
    (folder / "series" / "a.dcm").write_text("not dicom")


CASES = {  # name -> (what writes the input into a folder and returns it when not the folder, exit status)
    "images_ok": (_images_ok, 0), "images_some_fail": (_images_some_fail, 1),
    "images_all_blank": (_images_all_blank, 2), "images_none_readable": (_images_none_readable, 2),
    "nifti_ok": (_nifti_ok, 0), "nifti_blank": (_nifti_blank, 2),
    "dicom_some_fail": (_dicom_some_fail, 1), "dicom_nothing": (_dicom_nothing, 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_exit_status_says_how_much_was_classified(checkpoint, tmp_path, case, capsys):
    make, expected = CASES[case]
    folder = tmp_path / "in"
    folder.mkdir()
    code, table = run_inference(checkpoint, make(folder) or folder, tmp_path / "out")
    printed = "".join(capsys.readouterr())  # the bundle's logging.conf logs to the console
    assert code == expected, printed[-3000:]
    if case.startswith("images"):
        statuses = sorted(r["status"] for r in table["rows"])
        assert ("ok" in statuses, "error" in statuses) == (expected < 2, expected > 0), statuses
    if case.startswith("images") and expected == 2:
        assert f"ERROR - no image classified ({len(statuses)} failed)" in printed
