"""Export: every bundle's network scripts for ``python -m monai.bundle ckpt_export`` (as each bundle's README
documents it), ONNX export, and TorchScript / ONNX Runtime outputs equal to PyTorch's on real Testing images."""

from __future__ import annotations

import json

import pytest
import torch
from monai.bundle import ckpt_export

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.export import OnnxRuntimeNetwork, export_onnx, refuse_saliency
from monai_tumorcls.networks import ResNetClassifier

from ..bundles.helpers import PROJECT_ROOT, check, run_bundle

BUNDLES = PROJECT_ROOT / "bundles"
#: bundle -> (its network id, --key_in_ckpt) for ckpt_export, as each bundle's docs/README.md gives them.
EXPORTED = {b.name: ("network_def", "model") for b in BUNDLES.iterdir() if (b / "configs" / "inference.json").is_file()}
EXPORTED["ssl_simclr_resnet18"] = ("backbone_def", "backbone")
#: one bundle per head (linear, dense, spp), on a ResNet18 trunk at 64 px to keep the runs short.
HEAD_BUNDLES = ("resnet18_binary", "resnet50_4class", "resnet50_spp_binary")
SMALL = {"backbone": "resnet18", "image_size": 64}
TOLERANCE = 1e-4


@pytest.mark.parametrize("head", ["linear", "dense", "spp"])
def test_network_scripts_like_eager(head):
    net = ResNetClassifier("resnet18", num_classes=3, head=head).eval()
    x = torch.randn(2, 3, 70, 50)  # feature map 3x2: SPP bins of level 2 and 4 overlap
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(net)(x), net(x), atol=1e-5, rtol=0)


def _trained_like(bundle: str, tmp_path, **overrides) -> tuple:
    """The bundle's network with non-trivial BatchNorm statistics, saved as a plain state dict checkpoint."""
    parser = load_bundle_config(BUNDLES / bundle, "train.json", {"bundle_root": str(tmp_path), **overrides})
    net = parser.get_parsed_content("network_def")
    with torch.no_grad():
        net.train()(torch.randn(4, 3, 64, 64) * 2 + 0.5)  # running stats away from their (0, 1) init
    ckpt = tmp_path / "model.pt"
    torch.save(net.state_dict(), ckpt)
    return net.eval(), parser, ckpt


@pytest.mark.parametrize("bundle", sorted(EXPORTED))
def test_ckpt_export_every_bundle(bundle, tmp_path):
    net_id, key = EXPORTED[bundle]
    assert f"ckpt_export {net_id} " in (BUNDLES / bundle / "docs" / "README.md").read_text()
    cfg = BUNDLES / bundle / "configs"
    parser = load_bundle_config(BUNDLES / bundle, "train.json", {"bundle_root": str(tmp_path)})
    net = parser.get_parsed_content(net_id).eval()
    torch.save({key: net.state_dict(), "metadata": {"options": {}}}, tmp_path / "model.pt")  # as training saves it
    ts = tmp_path / "model.ts"
    ckpt_export(net_id=net_id, filepath=str(ts), ckpt_file=str(tmp_path / "model.pt"), key_in_ckpt=key,
                meta_file=str(cfg / "metadata.json"), config_file=str(cfg / "train.json"), bundle_root=str(tmp_path))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(ts))(x), net(x), atol=TOLERANCE, rtol=0)


@pytest.fixture(scope="module")
def testing_images(kaggle_root):
    """Four real Testing images (one per class)."""
    return [min((kaggle_root / "Testing" / cls).iterdir()) for cls in ("glioma", "meningioma", "notumor", "pituitary")]


@pytest.mark.integration
@pytest.mark.parametrize("bundle", HEAD_BUNDLES)
def test_torchscript_and_onnx_match_pytorch_on_real_images(bundle, tmp_path, testing_images):
    net, parser, ckpt = _trained_like(bundle, tmp_path, **SMALL)
    preprocessing = parser.get_parsed_content("preprocessing")
    images = torch.stack([preprocessing({"image": str(p)})["image"] for p in testing_images])
    with torch.no_grad():
        expected = net(images)
        scripted = torch.jit.script(net)(images)
    onnx_file = export_onnx(BUNDLES / bundle, tmp_path / "model.onnx", ckpt, **SMALL)
    onnx_logits = OnnxRuntimeNetwork(onnx_file)(images)
    assert (scripted - expected).abs().max() < TOLERANCE
    assert (onnx_logits - expected).abs().max() < TOLERANCE
    assert expected.std() > 1e-3  # the outputs compared are not all alike


@pytest.mark.integration
def test_onnx_inference_overlay_writes_pytorch_probabilities(tmp_path, testing_images):
    """inference.json + inference_onnx.json (ONNX Runtime) on real images writes PyTorch's probabilities."""
    bundle, cfg = "resnet18_binary", "bundles/resnet18_binary/configs"
    root = tmp_path / "bundle"
    (root / "models").mkdir(parents=True)
    net, parser, ckpt = _trained_like(bundle, root / "models", image_size=64)
    export_onnx(BUNDLES / bundle, root / "models" / "model.onnx", ckpt, image_size=64)
    assert sorted(p.name for p in (root / "models").iterdir()) == ["model.onnx", "model.pt"]  # one self-contained file
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for p in testing_images:
        (inputs / p.name).write_bytes(p.read_bytes())
    check(run_bundle([f"{cfg}/inference.json", f"{cfg}/inference_onnx.json"], bundle_root=str(root),
                     input_dir=str(inputs), train_overrides={"image_size": 64}))
    rows = json.loads((root / "outputs" / "predictions.json").read_text())["rows"]  # sorted by file name
    assert [r["status"] for r in rows] == ["ok"] * len(testing_images)
    preprocessing = parser.get_parsed_content("preprocessing")
    images = torch.stack([preprocessing({"image": str(inputs / r["file"])})["image"] for r in rows])
    with torch.no_grad():
        expected = net(images).softmax(1)
    assert (torch.tensor([list(r["probabilities"].values()) for r in rows]) - expected).abs().max() < TOLERANCE


def test_onnx_overlays_are_one_file_and_refuse_what_onnx_cannot_do(tmp_path):
    overlays = {b: (BUNDLES / b / "configs" / "inference_onnx.json").read_text() for b in EXPORTED if b != "ssl_simclr_resnet18"}
    assert len(set(overlays.values())) == 1, "the inference_onnx.json overlays differ"
    with pytest.raises(ValueError, match="saliency"):
        refuse_saliency(True)
    refuse_saliency(False)
    with pytest.raises(FileNotFoundError, match="monai_tumorcls.export onnx"):
        OnnxRuntimeNetwork(tmp_path / "missing.onnx")
