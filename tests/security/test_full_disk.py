"""A full disk: found at the start where possible (free space under the margin: exit status 3 before any input is
read), else it ends the run with one line and exit status 3, and the result tables are left as they were, never
half-written (the disk fills up while the second table of a run is synced)."""

from __future__ import annotations

import errno
import os

import pytest

import monai_tumorcls.bundle.config as bundle_config
from tests.inference import synthetic_inputs as syn
from tests.security.runs import run_inference, write_checkpoint, write_image


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


def _printed(capsys) -> str:
    return "".join(capsys.readouterr())  # the bundle's logging.conf logs to the console


def _disk_fills_on(monkeypatch, table_name: str) -> None:
    """``os.fsync`` of a temporary file of ``table_name`` fails as on a full disk."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if table_name in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_too_little_free_space_is_found_before_any_input_is_read(checkpoint, tmp_path, monkeypatch, capsys):
    write_image((tmp_path / "in").mkdir() or tmp_path / "in" / "a.png")
    usage = bundle_config.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(bundle_config.shutil, "disk_usage", lambda _: usage._replace(free=5 * 2**20))
    code, table = run_inference(checkpoint, tmp_path / "in", tmp_path / "out")
    assert code == 3 and table is None
    assert "only 5 MiB free in the output folder's file system" in _printed(capsys)


def test_a_disk_filling_up_mid_run_keeps_the_earlier_tables(checkpoint, tmp_path, monkeypatch, capsys):
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png")
    assert run_inference(checkpoint, tmp_path / "in", tmp_path / "out")[0] == 0
    earlier = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("predictions.*")}
    write_image(tmp_path / "in" / "b.png", seed=1)
    _disk_fills_on(monkeypatch, "predictions.csv")  # the JSON is written first: it must not replace the old one
    code, _ = run_inference(checkpoint, tmp_path / "in", tmp_path / "out")
    printed = _printed(capsys)
    assert code == 3, printed[-3000:]
    errors = [line for line in printed.splitlines() if " - ERROR - " in line and "no space left" in line]
    assert len(errors) == 1 and "Traceback" not in printed, printed[-3000:]
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").glob("predictions.*")} == earlier
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_a_disk_filling_up_in_a_clinical_run_ends_it(checkpoint, tmp_path, monkeypatch, capsys):
    volume = syn.write_nifti((tmp_path / "in").mkdir() or tmp_path / "in" / "t1.nii.gz", "RAS")
    _disk_fills_on(monkeypatch, "clinical.csv")
    code, _ = run_inference(checkpoint, volume, tmp_path / "out")
    printed = _printed(capsys)
    assert code == 3 and "no space left" in printed and "Traceback" not in printed, printed[-3000:]
    assert not list((tmp_path / "out").glob("clinical.*"))
