"""What an inference run reads: only regular files, never more than a cap of bytes, and never its own outputs.

* A FIFO, a unix socket, a link to ``/dev/zero`` and a link to a FIFO in an image folder, in a DICOM folder, and as
  a NIfTI or image input each get an error ("not a regular file") and are never opened: before, a FIFO hung the run
  and ``/dev/zero`` grew memory past 6 GB. The hostile runs go through the inference command's own function in a
  subprocess with a capped address space and a timeout.
* Every reader stops at its byte cap (:mod:`monai_tumorcls.data.input_limits`), whatever ``stat`` said.
* A second run over a folder that holds the first run's outputs (``--output_dir`` inside ``--input_dir``, or the
  files copied elsewhere) does not classify its Grad-CAM overlays, tables or DICOM results: each is a "skipped" row.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from monai_tumorcls.data import RasterImageReader, image_folder_datalist
from monai_tumorcls.data.input_limits import open_capped, read_capped
from monai_tumorcls.data.readers import scan_dicom_folder
from monai_tumorcls.data.readers import dicom as dicom_reader
from monai_tumorcls.data.readers import dicom_scan
from monai_tumorcls.data.readers import nifti as nifti_reader
from monai_tumorcls.data.readers import raster
from monai_tumorcls.data.readers.errors import ImageReadError
from tests.bundles.helpers import PROJECT_ROOT
from tests.inference import synthetic_inputs as syn
from tests.security.runs import CONFIG, run_inference, write_checkpoint, write_image

RUN_LIMIT_S = 30  # one hostile run; each takes about a second on a 2-core CPU
DRIVER_LIMIT_S = 240
ADDRESS_HEADROOM = 2 << 30  # address space allowed above the driver's own after its imports
DRIVER = """
import json, resource, sys, time
import monai.bundle, torch
import monai_tumorcls.apps.clinical  # the package's imports come before the cap, as in a real run
spec = json.loads(sys.argv[1])
mapped = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (mapped + spec["headroom"],) * 2)
result = {}
for name, options in spec["runs"].items():
    start = time.perf_counter()
    try:
        monai.bundle.run(**options)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    result[name] = {"code": code, "seconds": time.perf_counter() - start}
print("RESULT " + json.dumps(result))
"""
NOT_REGULAR = {"fifo": "not a regular file (named pipe (FIFO)); not opened",
               "zero": "not a regular file (symbolic link to a character device); not opened",
               "socket": "not a regular file (socket); not opened",
               "fifo_link": "not a regular file (symbolic link to a named pipe (FIFO)); not opened"}


def _hostile_entries(folder: Path, suffix: str) -> dict[str, Path]:
    """A FIFO, a link to /dev/zero, a bound unix socket and a link to the FIFO in ``folder``, named ``*<suffix>``."""
    entries = {kind: folder / f"{kind}{suffix}" for kind in NOT_REGULAR}
    os.mkfifo(entries["fifo"])
    os.symlink("/dev/zero", entries["zero"])
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(entries["socket"]))  # the socket file stays when the socket is closed
    os.symlink(entries["fifo"], entries["fifo_link"])
    return entries


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The inputs, and what the hostile runs in one capped subprocess gave for each: exit status and seconds."""
    root = tmp_path_factory.mktemp("hostile")
    checkpoint = write_checkpoint(root / "model" / "tiny.pt")
    (root / "images").mkdir()
    write_image(root / "images" / "good.png")
    syn.write_series(root / "dicom" / "t1", "axial", n_slices=8)
    inputs = {"images": root / "images", "dicom": root / "dicom", "nifti_fifo": root / "t1.nii.gz",
              "nifti_zero": root / "zero.nii", "image_fifo": root / "one.jpg"}
    entries = {"images": _hostile_entries(root / "images", ".jpg"), "dicom": _hostile_entries(root / "dicom", ".dcm")}
    os.symlink("/dev/zero", root / "dicom" / "zero_without_suffix")  # the scanner reads files of any name
    os.mkfifo(inputs["nifti_fifo"])
    os.symlink("/dev/zero", inputs["nifti_zero"])
    os.mkfifo(inputs["image_fifo"])
    runs = {name: {"config_file": str(PROJECT_ROOT / CONFIG), "bundle_root": str(checkpoint.parent),
                   "checkpoint": str(checkpoint), "input_dir": str(path), "output_dir": str(root / "out" / name),
                   "train_overrides": {"image_size": 64}} for name, path in inputs.items()}
    spec = json.dumps({"headroom": ADDRESS_HEADROOM, "runs": runs})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run([sys.executable, "-c", DRIVER, spec], cwd=PROJECT_ROOT, env=env, capture_output=True,
                              text=True, timeout=DRIVER_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the hostile runs did not end within {DRIVER_LIMIT_S} s (a FIFO or a device was opened)")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    result = json.loads(proc.stdout.split("RESULT ")[-1])
    return {"root": root, "inputs": inputs, "entries": entries, "runs": result}


def _report(hostile, name: str, file: str = "clinical.json") -> dict:
    return json.loads((hostile["root"] / "out" / name / file).read_text())


@pytest.mark.parametrize("name", ["images", "dicom", "nifti_fifo", "nifti_zero", "image_fifo"])
def test_hostile_runs_end_within_seconds_with_the_documented_status(hostile, name):
    run = hostile["runs"][name]
    assert run["seconds"] < RUN_LIMIT_S
    assert run["code"] == (1 if name in ("images", "dicom") else 2)  # the good image / series is classified


def test_entries_of_an_image_folder_that_are_not_regular_files_get_an_error_row(hostile):
    rows = {r["file"]: r for r in _report(hostile, "images", "predictions.json")["rows"]}
    assert rows[str(hostile["inputs"]["images"] / "good.png")]["status"] == "ok"
    for kind, path in hostile["entries"]["images"].items():
        assert rows[str(path)]["status"] == "error" and rows[str(path)]["error"] == f"{path}: {NOT_REGULAR[kind]}"
    (single,) = _report(hostile, "image_fifo", "predictions.json")["rows"]
    assert single["error"] == f"{hostile['inputs']['image_fifo']}: {NOT_REGULAR['fifo']}"


def test_entries_of_a_dicom_folder_that_are_not_regular_files_are_errors_and_the_series_is_read(hostile):
    report = _report(hostile, "dicom")
    assert len(report["series"]) == 1 and report["series"][0]["decision"]["label"] != "undetermined"
    reasons = sorted(e["reason"] for e in report["errors"])
    assert reasons == sorted([*NOT_REGULAR.values(), NOT_REGULAR["zero"]])  # the link without a suffix too
    for name in ("nifti_fifo", "nifti_zero"):
        (error,) = _report(hostile, name)["errors"]
        assert error["item"] == "input" and error["reason"] == NOT_REGULAR[name.split("_")[1]]


def test_every_reader_stops_at_its_byte_cap_whatever_stat_said(tmp_path, monkeypatch):
    grown = tmp_path / "grows.bin"
    grown.write_bytes(b"x" * 80)
    with open_capped(grown, 100, "a test file") as f:  # within the cap when opened...
        with open(grown, "ab") as more:
            more.write(b"y" * 50)  # ...then it grows
        with pytest.raises(ImageReadError, match="more bytes than stat said, over the limit of 100 bytes"):
            f.read()
    assert len(read_capped(grown, 130)) == 130
    with open_capped(grown, 200) as f:  # a seek past the cap (a corrupt length) reads as the end of the file
        f.seek(1000)
        assert f.read(10) == b""
    with pytest.raises(ImageReadError, match=r"130 bytes, over the limit of 129 bytes for a test file; not read"):
        read_capped(grown, 129, "a test file")
    image = write_image(tmp_path / "a.png")
    monkeypatch.setattr(raster, "MAX_IMAGE_FILE_BYTES", image.stat().st_size - 1)
    with pytest.raises(ImageReadError, match="over the limit .* for a 2D image file"):
        RasterImageReader().get_data(RasterImageReader().read(str(image)))
    files = syn.write_series(tmp_path / "series", "axial", n_slices=6)
    series = scan_dicom_folder(tmp_path / "series").series[0]
    monkeypatch.setattr(dicom_reader, "MAX_DICOM_FILE_BYTES", 1000)  # decoding
    with pytest.raises(ImageReadError, match="over the limit of 1,000 bytes for a DICOM file"):
        dicom_reader.load_dicom_series(series)
    monkeypatch.setattr(dicom_scan, "MAX_DICOM_FILE_BYTES", 1000)  # scanning the headers
    issues = scan_dicom_folder(tmp_path / "series").issues
    assert sorted(i.path for i in issues) == sorted(files)
    assert {i.reason.split(" bytes, ")[-1] for i in issues} == {"over the limit of 1,000 bytes for a DICOM file; not read"}
    volume = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((64, 64, 32), np.float64), np.eye(4)), str(volume))
    monkeypatch.setattr(nifti_reader, "MAX_NIFTI_DATA_BYTES", 1 << 20)  # the volume declares 1 MiB + its header
    with pytest.raises(ImageReadError, match="declares 1,048,928 bytes of header and voxels, over the limit"):
        nifti_reader.load_nifti_volume(volume)
    monkeypatch.setattr(nifti_reader, "MAX_NIFTI_FILE_BYTES", 100)
    with pytest.raises(ImageReadError, match="over the limit of 100 bytes for a NIfTI file"):
        nifti_reader.load_nifti_volume(volume)


def test_a_gzip_tail_past_the_declared_volume_is_never_read(tmp_path, monkeypatch):
    volume = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 4), np.float32), np.eye(4)), str(volume))
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(gzip.compress(gzip.decompress(volume.read_bytes()) + bytes(64 << 20), 9))  # 64 MiB of zeros
    monkeypatch.setattr(nifti_reader, "MAX_NIFTI_DATA_BYTES", 1 << 20)
    data, _ = nifti_reader.load_nifti_volume(bomb, plane=None)
    assert data.shape == (8, 8, 4) and np.all(data == 1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


def _skip(kind: str) -> str:
    return f"skipped: an output of monai_tumorcls ({kind})"


def test_a_second_run_does_not_classify_the_first_runs_outputs(checkpoint, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "in" / "out"
    folder.mkdir()
    write_image(folder / "a.png")
    write_image(folder / "b.jpg", seed=1)
    for run in ("first", "second"):
        code, table = run_inference(checkpoint, folder, out, saliency="true")
        assert code == 0 and table["num_classified"] == 2, run
    rows = {Path(r["file"]).name: (r["status"], r["error"]) for r in table["rows"]}
    assert rows == {"a.png": ("ok", ""), "b.jpg": ("ok", ""),
                    "out": ("skipped", f"{out}: {_skip('the output folder of a run')}")}
    assert table["num_skipped"] == 1 and table["num_failed"] == 0
    overlays = sorted((out / "saliency").glob("*.png"))
    assert len(overlays) == 2
    copied = tmp_path / "copied"  # the outputs copied next to a new image, without the lock file
    copied.mkdir()
    write_image(copied / "c.png", seed=2)
    for f in overlays + [out / "predictions.csv", out / "predictions.json"]:
        shutil.copy(f, copied / f.name)
    code, table = run_inference(checkpoint, copied, tmp_path / "out_copied")
    rows = {Path(r["file"]).name: (r["status"], r["error"].split(": ", 1)[-1]) for r in table["rows"]}
    assert rows == {"c.png": ("ok", ""), **{f.name: ("skipped", _skip("Grad-CAM overlay")) for f in overlays},
                    "predictions.csv": ("skipped", _skip("predictions table")),
                    "predictions.json": ("skipped", _skip("predictions table"))}
    assert code == 0
    code, table = run_inference(checkpoint, out / "saliency", tmp_path / "out_overlays")
    assert code == 2 and table["num_skipped"] == 2  # nothing classified


def _write_study_series(folder: Path) -> None:
    """A synthetic series with the study's type 2 attributes that the DICOM SR copies from it."""
    for path in syn.write_series(folder, "axial", n_slices=8):
        ds = pydicom.dcmread(path)
        ds.PatientSex, ds.StudyTime, ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "O", "1200", "", "", ""
        ds.save_as(path)


def test_dicom_results_are_never_inputs(checkpoint, tmp_path):
    study, out = tmp_path / "study", tmp_path / "study" / "out"
    _write_study_series(study / "t1")
    for run in ("first", "second"):
        code, _ = run_inference(checkpoint, study, out, dicom_results="true")
        report = json.loads((out / "clinical.json").read_text())
        assert code == 0 and len(report["series"]) == 1, run
    (skipped,) = report["skipped"]
    assert skipped["item"].startswith("folder p-") and skipped["reason"] == _skip("the output folder of a run")
    written = sorted((out / "dicom_results").glob("*.dcm"))
    assert len(written) >= 2  # the SR and the secondary captures
    copied = tmp_path / "copied"
    shutil.copytree(study / "t1", copied / "t1")
    for f in written + [out / "clinical.json", out / "clinical.csv"]:
        shutil.copy(f, copied / f.name)
    scan = scan_dicom_folder(copied)
    reasons = {i.path.name: i.reason for i in scan.issues}
    assert reasons == {**{f.name: _skip("DICOM SR or secondary capture") for f in written},
                       "clinical.json": _skip("clinical run report"), "clinical.csv": _skip("clinical slice table")}
    assert len(scan.series) == 1 and not scan.errors


def test_the_image_datalist_skips_what_it_is_told_to(tmp_path):
    write_image(tmp_path / "a.png")
    (tmp_path / "elsewhere").mkdir()
    write_image(tmp_path / "elsewhere" / "b.png")
    items = image_folder_datalist(tmp_path, exclude=[tmp_path / "elsewhere"])
    assert items == [{"image": str(tmp_path / "a.png")},
                     {"image": str(tmp_path / "elsewhere"), "skip": _skip("the output folder of a run")}]
