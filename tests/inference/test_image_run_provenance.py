"""An image-folder run's prediction tables (``predictions.json``/``.csv``) name what produced them: package, bundle
and checkpoint, and the time of the run; outside a bundle, the package version only."""

from __future__ import annotations

import csv
import json

import pytest
import torch

import monai_tumorcls
from monai_tumorcls.apps.clinical import ClinicalInferer, grouped_options
from monai_tumorcls.checkpoint import Provenance
from tests.inference import synthetic_networks as nets

PROVENANCE = Provenance("tiny_bundle", "9.8.7", "ab" * 32)


def test_image_predictions_name_what_produced_them(tmp_path):
    inferer = ClinicalInferer(nets.marker_network(), nets.marker_preprocess(), nets.CLASS_NAMES,
                              **grouped_options(output_dir=tmp_path, provenance=PROVENANCE))
    batch = {"image": torch.zeros(2, 3, 16, 16), "image_path": ["/in/a.png", "/in/b.png"], "error": ["", ""],
             "skipped": ["", "skipped: an output of monai_tumorcls (predictions table)"], "warnings": ["", ""]}
    result = inferer.run_images([batch])
    table = json.loads(result.json_path.read_text())
    assert list(table)[:2] == ["num_files", "num_failed"]  # how a later run recognises the file as an output
    traced = table["provenance"]
    assert traced["checkpoint_sha256"] == "ab" * 32 and traced["bundle"]["name"] == "tiny_bundle"
    rows = list(csv.DictReader(result.csv_path.open()))
    assert [r["status"] for r in rows] == ["ok", "skipped"]
    assert {(r["bundle_version"], r["checkpoint_sha256"], r["created"]) for r in rows} == {
        ("9.8.7", "ab" * 32, table["provenance"]["created"])}
    plain = ClinicalInferer(nets.marker_network(), nets.marker_preprocess(), nets.CLASS_NAMES,
                            **grouped_options(output_dir=tmp_path / "plain")).run_images([batch])
    traced = json.loads(plain.json_path.read_text())["provenance"]  # outside a bundle: the package version only
    assert traced["package_version"] == monai_tumorcls.__version__ and traced["checkpoint_sha256"] is None
    with pytest.raises(ValueError, match="provenance"):
        ClinicalInferer(nets.marker_network(), nets.marker_preprocess(), nets.CLASS_NAMES,
                        **grouped_options(provenance={"checkpoint_sha256": "x"}))
