"""Upload handling of the web app on synthetic files: names, kinds, caps, and zip extraction that never writes
outside its target."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from monai_tumorcls.app.uploads import UploadError, UploadLimits, extract_zip, request_folder, safe_name, store_upload


def _zip(path, members: dict[str, bytes], link: str | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_safe_name_keeps_the_suffix_and_drops_folders():
    assert safe_name("../../etc/x y.nii.gz") == "x_y.nii.gz"
    assert safe_name("C:\\data\\scan.PNG") == "scan.PNG"
    assert safe_name("..") == "upload" and safe_name(None) == "upload"


def test_store_upload_refuses_unknown_empty_and_oversized_files(tmp_path):
    with pytest.raises(UploadError, match=r"^notes\.txt: unsupported file type"):
        store_upload(io.BytesIO(b"text"), "notes.txt", tmp_path, UploadLimits())
    with pytest.raises(UploadError, match=r"^a\.png: empty file"):
        store_upload(io.BytesIO(b""), "a.png", tmp_path, UploadLimits())
    with pytest.raises(UploadError, match=r"^b\.png: too large") as e:
        store_upload(io.BytesIO(b"x" * 5000), "b.png", tmp_path, UploadLimits(max_upload_bytes=4096))
    assert e.value.status == 413
    path, kind = store_upload(io.BytesIO(b"x" * 10), "c.nii.gz", tmp_path, UploadLimits())
    assert (path, kind) == (tmp_path / "c.nii.gz", "nifti") and path.read_bytes() == b"x" * 10


def test_zip_is_extracted_below_its_target(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"series/001.dcm": b"a", "series/sub/002.dcm": b"bb"})
    (tmp_path / "req").mkdir()
    path, kind = store_upload(io.BytesIO(archive.read_bytes()), "s.zip", tmp_path / "req", UploadLimits())
    assert kind == "dicom" and path == tmp_path / "req" / "dicom"
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) == [
        "series/001.dcm", "series/sub/002.dcm"]
    assert not (tmp_path / "req" / "s.zip").exists()


@pytest.mark.parametrize("bad", ["../evil.dcm", "/abs/evil.dcm", "a/../../evil.dcm", "C:/evil.dcm"])
def test_zip_traversal_is_refused_before_anything_is_written(tmp_path, bad):
    archive = _zip(tmp_path / "t.zip", {"ok.dcm": b"a", bad: b"evil"})
    target = tmp_path / "out" / "dicom"
    with pytest.raises(UploadError, match=r"^t\.zip: unsafe member path"):
        extract_zip(archive, target, UploadLimits())
    assert not target.exists() and not list(tmp_path.rglob("evil.dcm"))


def test_zip_links_count_and_size_caps(tmp_path):
    with pytest.raises(UploadError, match="link or special file"):
        extract_zip(_zip(tmp_path / "l.zip", {"a.dcm": b"a"}, link="b.dcm"), tmp_path / "l", UploadLimits())
    many = _zip(tmp_path / "m.zip", {f"{i}.dcm": b"a" for i in range(6)})
    with pytest.raises(UploadError, match=r"^m\.zip: 6 entries, more than the limit of 5$") as e:
        extract_zip(many, tmp_path / "m", UploadLimits(max_zip_members=5))
    assert e.value.status == 413
    bomb = tmp_path / "b.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.dcm", b"\0" * (2 << 20))
    assert bomb.stat().st_size < 10_000
    with pytest.raises(UploadError, match="too large once extracted"):
        extract_zip(bomb, tmp_path / "b", UploadLimits(max_unzipped_bytes=1 << 20))
    (tmp_path / "n.zip").write_bytes(b"PK not really")
    with pytest.raises(UploadError, match=r"^n\.zip: not a readable zip file"):
        extract_zip(tmp_path / "n.zip", tmp_path / "n", UploadLimits())


def test_request_folder_is_removed_even_on_errors(tmp_path):
    with pytest.raises(RuntimeError):
        with request_folder(tmp_path) as folder:
            (folder / "f.png").write_bytes(b"x")
            raise RuntimeError("boom")
    assert folder.parent == tmp_path and not folder.exists()
