"""Integration: the SimCLR pretraining bundle on real Training images (tiny budget), and its backbone loaded by
every classification bundle through the ``pretrained`` option that also takes ImageNet weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.checkpoint import read_checkpoint_metadata
from monai_tumorcls.networks import ResNetClassifier, read_state_dict

from .helpers import PROJECT_ROOT, check, run_bundle, train_bundle

BUNDLE = "bundles/ssl_simclr_resnet18"
BUDGET = {"max_images": 16, "epochs": 1, "image_size": 64, "batch_size": 8, "num_workers": 0}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, kaggle_root):
    return train_bundle(tmp_path_factory, "ssl_simclr", f"{BUNDLE}/configs/train.json", **BUDGET)


def test_pretraining_writes_a_backbone(pretrained):
    root, proc = pretrained
    path = root / "models" / "backbone.pt"
    state = read_state_dict(path)
    assert "conv1.weight" in state and "layer4.1.bn2.running_var" in state  # torchvision key layout
    assert not [k for k in state if k.startswith(("fc.", "projector.", "module."))]
    info = json.loads((root / "models" / "backbone.pt.json").read_text())
    assert info["kind"] == "final" and info["epoch"] == 1
    meta = read_checkpoint_metadata(path)  # how the backbone was pretrained, stored with it
    assert meta["options"]["image_size"] == BUDGET["image_size"] and meta["training_data"]["training"]["total"] == 16
    out = proc.stdout + proc.stderr
    assert "unlabelled datalist: 16 Training images" in out and "train_loss" in out
    assert not list((root / "models").glob(".*.tmp"))


def test_pretraining_with_amp_on_the_cpu_writes_a_float32_backbone(tmp_path, kaggle_root):
    """``--amp true`` on the CPU: bfloat16 forward passes through the network's hooks, no disabled CUDA GradScaler
    (and its warning) in the trainer, and the saved trunk stays float32."""
    proc = check(run_bundle(f"{BUNDLE}/configs/train.json", run_id="training", bundle_root=str(tmp_path),
                            amp="true", device="$torch.device('cpu')", **BUDGET))
    assert "GradScaler" not in proc.stdout + proc.stderr
    state = read_state_dict(tmp_path / "models" / "backbone.pt")
    assert {v.dtype for k, v in state.items() if v.is_floating_point()} == {torch.float32}
    assert json.loads((tmp_path / "models" / "backbone.pt.json").read_text())["kind"] == "final"


def test_backbone_loads_with_every_trunk_key_matched(pretrained):
    root, _ = pretrained
    path = root / "models" / "backbone.pt"
    net = ResNetClassifier("resnet18", num_classes=4, pretrained=str(path))
    result = net.backbone_load_result
    assert result.missing == [] and result.unexpected == [] and result.adapted == []
    trunk_keys = [k for k in net.features.state_dict() if not k.endswith("num_batches_tracked")]
    assert set(trunk_keys) <= set(result.loaded)
    state = read_state_dict(path)
    assert torch.equal(net.features.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_classification_bundles_take_it_as_pretrained(pretrained):
    root, _ = pretrained
    path = str(root / "models" / "backbone.pt")
    # every classification bundle with a ResNet18 trunk (a ResNet50 bundle needs `--backbone resnet50` pretraining)
    bundles = []
    for cfg in sorted((PROJECT_ROOT / "bundles").glob("*/configs/train.json")):
        content = json.loads(cfg.read_text())
        if "pretrained" in content.get("network_def", {}) and content.get("backbone") == "resnet18":
            bundles.append(cfg.parent.parent)
    assert any(b.name == "resnet18_binary" for b in bundles)
    for bundle in bundles:
        parser = load_bundle_config(bundle, overrides={"pretrained": path, "bundle_root": str(root)})
        net = parser.get_parsed_content("network_def")
        assert net.backbone_load_result.missing == [], bundle.name
        assert str(net.backbone_load_result.source).endswith("backbone.pt"), bundle.name


def test_bundle_datalist_and_views(kaggle_root):
    parser = load_bundle_config(PROJECT_ROOT / BUNDLE, overrides={"image_size": 64, "max_images": 8})
    items = parser.get_parsed_content("datalist")
    testing = (kaggle_root / "Testing").resolve()
    assert len(items) == 8 and not [it for it in items if Path(it["image"]).resolve().is_relative_to(testing)]
    load = parser.get_parsed_content("load")
    views = parser.get_parsed_content("views")
    item = {"image": items[0]["image"]}
    for t in load:
        item = t(item)
    out = views(item)
    v1, v2 = out["image_view1"], out["image_view2"]
    assert v1.shape == v2.shape == (3, 64, 64)
    assert not torch.allclose(v1, v2)
