"""The bundle configs call the constructors whose loose keywords were grouped into dataclasses (issue 37 item 7) with
the grouped spelling only, so that a normal run emits no FutureWarning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted([*ROOT.glob("bundles/*/configs/*.json"), *(ROOT / "monai_tumorcls/bundle/templates").glob("*.json"),
                  *ROOT.glob("bundles/*/recipe.json")])
_ITEM_KEYS = {"image_key", "path_key", "error_key", "warnings_key", "skipped_key", "pred_key", "logits_key", "label_key"}
OLD_KEYWORDS = {  # constructor -> the keywords it took before they were grouped
    "FailSafeDataset": _ITEM_KEYS,
    "PredictionWriter": _ITEM_KEYS,
    "SaliencyWriter": _ITEM_KEYS,
    "ClassificationReportHandler": _ITEM_KEYS | {"subsets", "main_name"},
    "AtomicCheckpointSaver": {"metric_name", "mode", "key_metric_filename"},
    "ResNetClassifier": {"dropout", "hidden_features", "spp_levels", "spp_pool"},
    "LesionClassifier": {"dropout", "hidden_features", "spp_levels", "spp_pool"},
}
#: config ids of these constructors' arguments, as overrides name them (``network_def#dropout``)
OWNERS = ("network_def", "checkpoint_saver", "backbone_saver", "final_saver")


def _old_uses(node, path=""):
    if isinstance(node, dict):
        target = str(node.get("_target_", "")).rsplit(".", 1)[-1]
        for key in OLD_KEYWORDS.get(target, set()) & set(node):
            yield f"{path}#{key} ({target})"
        for key, value in node.items():
            parts = str(key).split("#")
            if len(parts) > 1 and parts[-2] in OWNERS and parts[-1] in set().union(*OLD_KEYWORDS.values()):
                yield f"{path}#{key}"
            yield from _old_uses(value, f"{path}#{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _old_uses(value, f"{path}#{i}")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_configs_use_the_grouped_keywords(config):
    assert not list(_old_uses(json.loads(config.read_text())))


def test_the_check_finds_an_old_keyword():
    old = {"network_def": {"_target_": "monai_tumorcls.networks.ResNetClassifier", "dropout": 0.2},
           "validate#checkpoint_saver#metric_name": None}
    assert list(_old_uses(old)) == ["#network_def#dropout (ResNetClassifier)", "#validate#checkpoint_saver#metric_name"]
