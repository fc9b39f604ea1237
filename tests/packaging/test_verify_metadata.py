"""MONAI's ``verify_metadata`` on every bundle with the schema shipped in the package: jsonschema installed (the
``verify`` extra), nothing downloaded, a broken metadata.json named; the documented command; and no deprecated
metadata name left for MONAI to warn about."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import warnings

import monai.apps.utils
import pytest
from monai.bundle import ConfigWorkflow

from monai_tumorcls.bundle import METADATA_SCHEMA, metadata_schema_path, verify_bundle_metadata
from monai_tumorcls.bundle import __main__ as cli

from ..bundles.helpers import PROJECT_ROOT, check

BUNDLES = PROJECT_ROOT / "bundles"
META_FILES = sorted(str(p) for p in BUNDLES.glob("*/configs/metadata.json"))


@pytest.fixture
def no_download(monkeypatch):
    """MONAI's ``download_url`` fetches the schema only when ``--filepath`` does not exist: any fetch fails here."""

    def refuse(url, *args, **kwargs):
        raise AssertionError(f"verify_metadata downloaded {url}: the shipped schema was not used")

    monkeypatch.setattr(monai.apps.utils, "urlretrieve", refuse)
    monkeypatch.setattr(monai.apps.utils, "urlopen", refuse)


def test_jsonschema_is_installed_by_the_setup():
    """MONAI validates with jsonschema; without it verify_metadata dies with an unrelated TypeError."""
    assert importlib.util.find_spec("jsonschema"), "jsonschema missing: run `make setup` (the verify extra)"
    assert "verify" in (PROJECT_ROOT / "setup.cfg").read_text().split("[options.extras_require]")[1].split("test =")[1]


def test_every_bundle_passes_verify_metadata_with_the_shipped_schema(no_download):
    assert metadata_schema_path() == str(METADATA_SCHEMA) and METADATA_SCHEMA.is_file()
    assert verify_bundle_metadata(BUNDLES) == {path: "" for path in META_FILES} and len(META_FILES) == 8


def test_a_broken_metadata_is_named_and_fails_the_command(no_download, tmp_path, capsys):
    for name in ("resnet18_binary", "resnet50_4class"):
        shutil.copytree(BUNDLES / name / "configs", tmp_path / name / "configs")
    broken = tmp_path / "resnet50_4class" / "configs" / "metadata.json"
    meta = json.loads(broken.read_text())
    meta["network_data_format"]["outputs"]["pred"]["num_channels"] = "4"  # a string where the schema wants an int
    broken.write_text(json.dumps(meta))
    results = verify_bundle_metadata(tmp_path)
    assert results[str(tmp_path / "resnet18_binary" / "configs" / "metadata.json")] == ""
    assert "'4' is not of type 'integer'" in results[str(broken)]
    assert verify_bundle_metadata(tmp_path / "resnet18_binary") == {  # one bundle's folder
        str(tmp_path / "resnet18_binary" / "configs" / "metadata.json"): ""}
    with pytest.raises(SystemExit) as exit_:
        cli.verify(str(tmp_path))
    assert exit_.value.code == 1 and f"{broken}: " in capsys.readouterr().out


def test_documented_verify_metadata_command_reads_the_shipped_schema():
    """The command of ``monai_tumorcls/bundle/verify.py`` (and docs/usage.md), as the user types it."""
    cmd = [sys.executable, "-m", "monai.bundle", "verify_metadata", "--meta_file",
           "bundles/resnet18_binary/configs/metadata.json", "--filepath", "monai_tumorcls/bundle/metadata_schema.json"]
    assert " ".join(cmd[1:]) in " ".join((PROJECT_ROOT / "docs" / "usage.md").read_text().replace("\\\n", " ").split())
    out = check(subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300))
    log = out.stdout + out.stderr
    assert "skipped downloading" in log and "metadata is verified with no error" in log, log[-3000:]


@pytest.mark.parametrize("meta_file", META_FILES, ids=lambda p: p.split("/")[-3])
def test_reading_a_bundle_warns_about_nothing_deprecated(meta_file, tmp_path):
    """``monai.bundle run`` reads metadata.json with the config; a deprecated name there (``optional_packages_version``)
    made MONAI warn on every run."""
    config = str(PROJECT_ROOT / meta_file.replace("metadata.json", "train.json"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConfigWorkflow(config_file=config, meta_file=meta_file, workflow_type="train", bundle_root=str(tmp_path))
    assert [str(w.message) for w in caught if "deprecat" in str(w.message).lower()] == []
    # the schema whose keys the shipped file holds
    assert json.loads(open(meta_file).read())["schema"].endswith("/meta_schema_20240725.json")
