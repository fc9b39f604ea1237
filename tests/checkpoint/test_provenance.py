"""The provenance record every output carries: the checkpoint file's SHA-256 (as ``sha256sum`` gives it), the
package and bundle versions, and the time in UTC."""

from __future__ import annotations

import hashlib
import re
import time

import torch

import monai_tumorcls
from monai_tumorcls.checkpoint import PROVENANCE_COLUMNS, Provenance, checkpoint_provenance, provenance_cells


def test_checkpoint_provenance_hashes_the_file_and_stamps_utc(tmp_path):
    ckpt = tmp_path / "model.pt"
    torch.save({"w": torch.arange(10.0)}, ckpt)
    provenance = checkpoint_provenance(ckpt, "resnet18_binary", "0.3.1")
    assert provenance.checkpoint_sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = provenance.record()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["created"]) and record["created"] >= before
    assert record == {"package_version": monai_tumorcls.__version__,
                      "bundle": {"name": "resnet18_binary", "version": "0.3.1"},
                      "checkpoint_sha256": provenance.checkpoint_sha256, "created": record["created"]}
    assert provenance.record("2020-01-02T03:04:05Z")["created"] == "2020-01-02T03:04:05Z"
    torch.save({"w": torch.arange(11.0)}, ckpt)  # other weights, another digest
    assert checkpoint_provenance(ckpt).checkpoint_sha256 != provenance.checkpoint_sha256


def test_no_checkpoint_file_and_csv_cells(tmp_path):
    assert checkpoint_provenance(tmp_path / "missing.pt").checkpoint_sha256 is None
    assert checkpoint_provenance(None) == Provenance()
    cells = provenance_cells(Provenance("b", None, "ff").record("2020-01-02T03:04:05Z"))
    assert list(cells) == list(PROVENANCE_COLUMNS)
    assert cells == {"package_version": monai_tumorcls.__version__, "bundle_name": "b", "bundle_version": "",
                     "checkpoint_sha256": "ff", "created": "2020-01-02T03:04:05Z"}
