"""The web app against a hostile client: zips whose members clash, repeat or have names too long for the file system,
zips whose end records claim a million entries or hide some, requests with a foreign Host header (DNS rebinding), and
the API schema. Every refusal is one line without a server path, and nothing reaches the model: the service here
is a stub whose ``predict`` fails the test (the refusals all come before classification)."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from monai_tumorcls.app import UploadLimits, create_app, uploads
from monai_tumorcls.app.__main__ import serve
from monai_tumorcls.app.server import allowed_hosts

MAX_MEMBERS = 50
LOCAL = "http://127.0.0.1:8000"


def _not_classified(*args, **kwargs):
    raise AssertionError("a hostile upload reached the model")


def _not_parsed(*args, **kwargs):
    raise AssertionError("zipfile.ZipFile was constructed (it parses the whole central directory)")


def _not_walked(*args, **kwargs):
    raise AssertionError("the central directory was walked entry by entry")


@pytest.fixture()
def work(tmp_path):
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


@pytest.fixture()
def client(work):
    service = SimpleNamespace(bundle_name="stub", predict=_not_classified)
    app = create_app(service, UploadLimits(max_upload_bytes=2 << 20, max_zip_members=MAX_MEMBERS), work_root=work)
    return TestClient(app, base_url=LOCAL)


def _zip_bytes(members: list[tuple[str, bytes]], comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicated member some tests need
        for name, data in members:
            zf.writestr(name, data)
        zf.comment = comment
    return buf.getvalue()


def _with_end_records(data: bytes, entries: int, zip64: bool) -> bytes:
    """``data`` (a zip without comment) with end records claiming ``entries``; with ``zip64``, a ZIP64 end record
    and locator as a zip of more than 65535 entries has, and the classic record's fields at their ZIP64 markers."""
    eocd_at = len(data) - uploads._EOCD.size
    cd_size, cd_offset = uploads._EOCD.unpack_from(data, eocd_at)[5:7]
    if not zip64:
        return data[:eocd_at] + uploads._EOCD.pack(b"PK\5\6", 0, 0, entries, entries, cd_size, cd_offset, 0)
    record = uploads._EOCD64.pack(b"PK\6\6", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset)
    locator = uploads._EOCD64_LOCATOR.pack(b"PK\6\7", 0, eocd_at, 1)
    classic = uploads._EOCD.pack(b"PK\5\6", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:eocd_at] + record + locator + classic


def _refusal(response, status: int, work) -> str:
    """The one-line error of a refused upload, checked to name no server path and to leave no file behind."""
    detail = response.json()["detail"]
    assert response.status_code == status, detail
    assert "\n" not in detail and str(work) not in detail and "tumorcls_app_" not in detail
    assert not list(work.iterdir())
    return detail


def _post(client, name: str, data: bytes):
    return client.post("/predict", files={"file": (name, data)})


LONG = "x" * 300
HOSTILE_LAYOUTS = {
    "file_and_folder": ([("a", b"1"), ("a/b.dcm", b"2")], r"member 'a' is both a file and a folder"),
    "folder_then_file": ([("a/b/c.dcm", b"1"), ("a/b", b"2")], r"member 'a/b' is both a file and a folder"),
    "duplicate": ([("s/1.dcm", b"1"), ("s/1.dcm", b"2")], r"duplicate member 's/1\.dcm'"),
    "duplicate_spelled_apart": ([("s/1.dcm", b"1"), ("./s//1.dcm", b"2")], r"duplicate member '\./s//1\.dcm'"),
    "long_folder": ([(f"{LONG}/1.dcm", b"1")], r"member name too long \('x{40}'\.\.\.: at most 255 bytes"),
    "long_path": ([("/".join(["y" * 250] * 5), b"1")], r"member name too long \('y{40}'\.\.\."),
    "dot_file": ([(".", b"1")], r"unsafe member path '\.'"),
}


@pytest.mark.parametrize("layout", HOSTILE_LAYOUTS)
def test_zips_that_cannot_be_written_get_a_one_line_400(client, work, layout):
    members, reason = HOSTILE_LAYOUTS[layout]
    detail = _refusal(_post(client, "s.zip", _zip_bytes(members)), 400, work)
    assert re.fullmatch(rf"s\.zip: {reason}.*; nothing extracted", detail), detail


def test_a_zip_with_a_name_that_is_not_utf8_gets_a_one_line_400(client, work):
    data = _zip_bytes([("é.dcm", b"1")])  # zipfile flags a non-ASCII name as UTF-8
    detail = _refusal(_post(client, "u.zip", data.replace("é".encode(), b"\xff\xfe")), 400, work)
    assert detail.startswith("u.zip: not a readable zip file ('utf-8' codec can't decode byte 0xff")


def test_a_zip64_end_record_claiming_a_million_entries_is_refused_at_once(client, work, monkeypatch):
    data = _with_end_records(_zip_bytes([("a.dcm", b"1")]), 1_000_000, zip64=True)  # valid: see the zip64 test below
    assert len(data) < 1000
    monkeypatch.setattr(zipfile, "ZipFile", _not_parsed)
    monkeypatch.setattr(uploads, "_count_entries", _not_walked)  # refused from the end record alone
    response = _post(client, "huge.zip", data)
    assert _refusal(response, 413, work) == f"huge.zip: 1000000 entries, more than the limit of {MAX_MEMBERS}"


def test_an_end_record_hiding_entries_is_caught_by_counting_the_directory(client, work, monkeypatch):
    many = _zip_bytes([(f"{i}.dcm", b"1") for i in range(MAX_MEMBERS + 1)])
    wide = io.BytesIO()
    with zipfile.ZipFile(wide, "w") as zf:  # 2 entries, each with a 60 kB comment: far beyond 2 kB per entry
        for name in ("a.dcm", "b.dcm"):
            info = zipfile.ZipInfo(name)
            info.comment = b"c" * 60_000
            zf.writestr(info, b"1")
    monkeypatch.setattr(zipfile, "ZipFile", _not_parsed)
    for zip64 in (False, True):
        response = _post(client, "liar.zip", _with_end_records(many, 1, zip64))
        assert _refusal(response, 413, work) == f"liar.zip: more than the limit of {MAX_MEMBERS} entries"
    detail = _refusal(_post(client, "wide.zip", wide.getvalue()), 413, work)
    assert detail == f"wide.zip: central directory of {2 * 60_051} bytes, too large for {MAX_MEMBERS} entries"


def _honest_zip(variant: str) -> bytes:
    """A zip of two files as it may honestly come: plain, with an archive comment, after a prefix (a self-extracting
    zip), with ZIP64 end records, or with the end signature's bytes in the directory offset (which zipfile ignores)."""
    data = _zip_bytes([("s/1.dcm", b"1"), ("s/2.dcm", b"22")], comment=b"a note" if variant == "comment" else b"")
    if variant == "prefix":
        return b"MZ" + b"\0" * 500 + data
    if variant == "zip64":
        return _with_end_records(data, 2, zip64=True)
    if variant == "signature_in_offset":
        return data[:-6] + b"PK\5\6" + data[-2:]
    return data


@pytest.mark.parametrize("variant", ["plain", "comment", "prefix", "zip64", "signature_in_offset"])
def test_the_end_records_are_found_where_zipfile_finds_them(variant):
    data = _honest_zip(variant)
    endrec = zipfile._EndRecData(io.BytesIO(data))  # private, but the oracle: what ZipFile's constructor reads
    cd_end = endrec[zipfile._ECD_LOCATION] - (76 if endrec[0] == zipfile.stringEndArchive64 else 0)
    cd_size = endrec[zipfile._ECD_SIZE]
    expected = (endrec[zipfile._ECD_ENTRIES_TOTAL], cd_end - cd_size, cd_size)
    assert uploads._end_of_central_directory(io.BytesIO(data)) == expected and expected[::2] == (2, 2 * (46 + 7))


@pytest.mark.parametrize("variant", ["comment", "prefix", "zip64"])
def test_honest_zips_in_each_form_are_extracted(tmp_path, variant):
    archive = tmp_path / "ok.zip"
    archive.write_bytes(_honest_zip(variant))
    assert uploads.extract_zip(archive, tmp_path / "out", UploadLimits(max_zip_members=2)) == 2
    assert (tmp_path / "out" / "s" / "2.dcm").read_bytes() == b"22"


def test_the_record_layouts_are_zipfiles():
    for ours, theirs in [(uploads._EOCD, zipfile.structEndArchive), (uploads._EOCD64, zipfile.structEndArchive64),
                         (uploads._EOCD64_LOCATOR, zipfile.structEndArchive64Locator),
                         (uploads._CD_ENTRY, zipfile.structCentralDir)]:
        assert ours.format == (theirs.decode() if isinstance(theirs, bytes) else theirs)
    assert (uploads._EOCD_SIG, uploads._EOCD64_LOCATOR_SIG, uploads._EOCD64_SIG, uploads._CD_SIG) == (
        zipfile.stringEndArchive, zipfile.stringEndArchive64Locator, zipfile.stringEndArchive64,
        zipfile.stringCentralDir)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "[::1]:8000"])
def test_a_foreign_host_header_is_refused(client, host):
    response = client.get("/health", headers={"Host": host})
    assert (response.status_code, response.text) == (400, "Invalid host header")
    upload = client.post("/predict", files={"file": ("a.png", b"x")}, headers={"Host": host})
    assert upload.status_code == 400  # refused before the body is read or the (stub) model is called


def test_loopback_host_headers_of_the_bound_address_are_answered(client, work):
    assert TestClient(client.app).get("/health").status_code == 400  # TestClient's default Host: testserver
    for host in ("127.0.0.1:8000", "127.0.0.1", "localhost:8000", "LOCALHOST:1234"):
        assert client.get("/health", headers={"Host": host}).json() == {"status": "ok", "bundle": "stub"}
    ipv6 = TestClient(create_app(SimpleNamespace(bundle_name="stub"), hosts=allowed_hosts("::1")), base_url=LOCAL)
    assert ipv6.get("/health", headers={"Host": "[::1]:8000"}).status_code == 200
    assert ipv6.get("/health").status_code == 400  # bound to ::1: 127.0.0.1 is another address


def test_only_loopback_addresses_can_be_served():
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert allowed_hosts("localhost") == ["localhost", "127.0.0.1", "[::1]"]
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""):
        with pytest.raises(ValueError, match="is not a loopback address"):
            allowed_hosts(host)
    with pytest.raises(SystemExit, match=r"^error: host '0\.0\.0\.0' is not a loopback address"):
        serve(bundle="no/such/bundle", host="0.0.0.0")  # refused before the bundle is looked at


def test_no_api_schema_or_api_pages(client):
    for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    assert client.get("/health").status_code == 200
