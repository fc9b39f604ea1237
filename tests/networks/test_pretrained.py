from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from monai_tumorcls.networks import (
    PretrainedWeightsNotFoundError,
    ResNetClassifier,
    ResNetFeatures,
    find_imagenet_weights,
    imagenet_weight_files,
    load_backbone_weights,
    read_state_dict,
)

RESNET18_V1 = "resnet18-f37072fd.pth"  # basename of torchvision's ResNet18_Weights.IMAGENET1K_V1 URL


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache: $TORCH_HOME/hub/checkpoints."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # in case torch.hub.set_dir was called elsewhere
    (home / "hub" / "checkpoints").mkdir(parents=True)
    return home


@pytest.fixture(scope="module")
def tv_state() -> dict[str, torch.Tensor]:
    """A torchvision-layout resnet18 state dict (random weights, non-trivial BN statistics), fc included."""
    torch.manual_seed(123)
    model = torchvision.models.resnet18(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_trunk_equal(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    trunk = model.features if hasattr(model, "features") else model
    for key, value in trunk.state_dict().items():
        assert torch.equal(value, state[key]), key


def _net(**kwargs) -> ResNetClassifier:
    return ResNetClassifier("resnet18", num_classes=4, **kwargs)


def test_imagenet_file_names():
    assert imagenet_weight_files("resnet18") == {
        "IMAGENET1K_V1": (RESNET18_V1, "https://download.pytorch.org/models/resnet18-f37072fd.pth")
    }
    files = imagenet_weight_files("resnet50")
    assert files["IMAGENET1K_V1"][0] == "resnet50-0676ba61.pth" and files["IMAGENET1K_V2"][0] == "resnet50-11ad3fa6.pth"
    with pytest.raises(ValueError, match="unknown torchvision architecture"):
        imagenet_weight_files("resnet19")


def test_imagenet_from_hub_cache(torch_home, tv_state, caplog):
    torch.save(tv_state, torch_home / "hub" / "checkpoints" / RESNET18_V1)
    with caplog.at_level(logging.INFO, logger="monai_tumorcls.networks"):
        net = _net(pretrained="imagenet")
    assert_trunk_equal(net, tv_state)
    result = net.backbone_load_result
    assert result.source == str(torch_home / "hub" / "checkpoints" / RESNET18_V1)
    assert sorted(result.dropped) == ["fc.bias", "fc.weight"]
    assert result.missing == [] and result.unexpected == []
    assert len(result.loaded) == len(net.features.state_dict())
    assert net.head.fc.weight.shape == (4, 512)  # the ImageNet classifier is not loaded into the head
    assert "loaded 120/120 trunk tensors" in caplog.text


def test_imagenet_into_trunk_and_torchvision_model(torch_home, tv_state):
    torch.save(tv_state, torch_home / "hub" / "checkpoints" / RESNET18_V1)
    trunk = ResNetFeatures("resnet18")
    load_backbone_weights(trunk, "imagenet")  # arch from the trunk
    assert_trunk_equal(trunk, tv_state)
    tv = torchvision.models.resnet18(weights=None, num_classes=4)
    fc_before = tv.fc.weight.clone()
    load_backbone_weights(tv, "imagenet", "resnet18")
    assert torch.equal(tv.layer4[1].conv2.weight, tv_state["layer4.1.conv2.weight"])
    assert torch.equal(tv.fc.weight, fc_before)


def test_imagenet_missing_error_names_paths(torch_home):
    with pytest.raises(PretrainedWeightsNotFoundError) as info:
        _net(pretrained="imagenet")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(torch_home / "hub" / "checkpoints" / RESNET18_V1) in message
    assert "nothing is downloaded" in message and "TORCH_HOME" in message and "`pretrained`" in message
    with pytest.raises(PretrainedWeightsNotFoundError) as info:
        find_imagenet_weights("resnet50")
    assert "resnet50-0676ba61.pth" in str(info.value) and "resnet50-11ad3fa6.pth" in str(info.value)


def test_imagenet_versions(torch_home):
    checkpoints = torch_home / "hub" / "checkpoints"
    v1, v2 = checkpoints / "resnet50-0676ba61.pth", checkpoints / "resnet50-11ad3fa6.pth"
    v2.touch()
    assert find_imagenet_weights("resnet50") == v2  # V2 accepted when V1 is absent
    v1.touch()
    assert find_imagenet_weights("resnet50") == v1  # V1 preferred
    assert find_imagenet_weights("resnet50", "imagenet1k_v2") == v2
    assert find_imagenet_weights("resnet50", hub_dir=torch_home / "hub") == v1
    with pytest.raises(ValueError, match="no IMAGENET1K_V2 weights"):
        find_imagenet_weights("resnet18", "imagenet1k_v2")
    with pytest.raises(ValueError, match="unknown ImageNet weights"):
        find_imagenet_weights("resnet18", "imagenet22k")


def _prefixed(state, prefix):
    return {prefix + k: v for k, v in state.items()}


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda s: s, id="plain"),
        pytest.param(lambda s: _prefixed(s, "module."), id="module-prefix"),
        pytest.param(lambda s: _prefixed(s, "backbone."), id="backbone-prefix"),
        pytest.param(lambda s: _prefixed(s, "module.encoder."), id="module-encoder-prefix"),
        pytest.param(lambda s: {"model": s, "optimizer": {"lr": 0.1}, "epoch": 3}, id="model-wrapper"),
        pytest.param(lambda s: {"state_dict": _prefixed(s, "module.")}, id="state_dict-wrapper"),
        pytest.param(lambda s: {"network": _prefixed(s, "features.")}, id="network-wrapper-features"),
        pytest.param(lambda s: {"model": {"state_dict": s}}, id="nested-wrapper"),
    ],
)
@pytest.mark.parametrize("suffix", [".pth", ".pt"])
def test_local_torch_files(tmp_path, tv_state, wrap, suffix):
    path = tmp_path / f"weights{suffix}"
    torch.save(wrap(tv_state), path)
    net = _net(pretrained=path)
    assert_trunk_equal(net, tv_state)
    assert net.backbone_load_result.unexpected == []
    assert_trunk_equal(_net(pretrained=str(path)), tv_state)


def test_safetensors(tmp_path, tv_state):
    path = tmp_path / "backbone.safetensors"
    save_file(_prefixed(tv_state, "encoder."), str(path))
    assert_trunk_equal(_net(pretrained=path), tv_state)


def test_own_layout_and_in_memory_state(tmp_path, tv_state):
    src = _net(pretrained=None, head="spp")
    src.features.load_state_dict({k: v for k, v in tv_state.items() if not k.startswith("fc.")})
    path = tmp_path / "classifier.pt"
    torch.save(src.state_dict(), path)
    net = _net(pretrained=path)
    assert_trunk_equal(net, tv_state)
    assert net.backbone_load_result.dropped and all(k.startswith("head.") for k in net.backbone_load_result.dropped)
    net2 = _net()
    load_backbone_weights(net2, src.state_dict())
    assert_trunk_equal(net2, tv_state)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(PretrainedWeightsNotFoundError, match="nope.pth"):
        _net(pretrained=path)


def test_wrong_file_no_matching_keys(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"encoder.blocks.0.attn.qkv.weight": torch.zeros(3, 3), "fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match="no key matches the resnet18 trunk"):
        _net(pretrained=path)
    torch.save({"epoch": 3, "config": {"lr": 0.1}}, path)
    with pytest.raises(ValueError, match="holds no tensors"):
        _net(pretrained=path)


def test_shape_mismatch_names_key(tmp_path, tv_state):
    state = dict(tv_state)
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"shape mismatch for trunk key 'layer2.0.conv1.weight'"):
        _net(pretrained=path)


def test_other_architecture_raises(tmp_path, tv_state):
    path = tmp_path / "r18.pth"
    torch.save(tv_state, path)
    with pytest.raises(ValueError, match="shape mismatch"):
        ResNetClassifier("resnet50", pretrained=path)


def test_partial_and_unexpected_keys(tmp_path, tv_state, caplog):
    state = {k: v for k, v in tv_state.items() if not k.startswith("layer4.")}
    state["projector.0.weight"] = torch.zeros(4, 4)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with caplog.at_level(logging.WARNING, logger="monai_tumorcls.networks"):
        net = _net(pretrained=path)
    result = net.backbone_load_result
    assert result.missing and all(k.startswith("layer4.") for k in result.missing)
    assert not any(k.endswith("num_batches_tracked") for k in result.missing)
    assert result.unexpected == ["projector.0.weight"]
    assert "layer4.0.conv1.weight" in caplog.text and "projector.0.weight" in caplog.text
    assert torch.equal(net.features.layer3[0].conv1.weight, tv_state["layer3.0.conv1.weight"])
    with pytest.raises(ValueError, match="trunk keys missing"):
        load_backbone_weights(_net(), path, strict=True)


def test_old_checkpoint_without_num_batches_tracked(tmp_path, tv_state):
    path = tmp_path / "old.pth"
    torch.save({k: v for k, v in tv_state.items() if not k.endswith("num_batches_tracked")}, path)
    net = _net(pretrained=path)
    assert net.backbone_load_result.missing == []
    for key, value in net.features.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, tv_state[key]), key


def test_duplicate_keys_raise(tv_state):
    state = {**tv_state, "module.conv1.weight": tv_state["conv1.weight"]}
    with pytest.raises(ValueError, match="both map to trunk key 'conv1.weight'"):
        load_backbone_weights(_net(), state)


@pytest.mark.parametrize("in_channels", [1, 4])
def test_input_channel_adaptation(tmp_path, tv_state, in_channels):
    path = tmp_path / "w.pth"
    torch.save(tv_state, path)
    net = ResNetClassifier("resnet18", in_channels=in_channels, pretrained=path)
    w = net.features.conv1.weight
    assert w.shape == (64, in_channels, 7, 7) and net.backbone_load_result.adapted == ["conv1.weight"]
    if in_channels == 1:
        torch.testing.assert_close(w[:, 0], tv_state["conv1.weight"].sum(dim=1))
    else:
        torch.testing.assert_close(w[:, 3], tv_state["conv1.weight"][:, 0] * 3 / 4)
    with pytest.raises(ValueError, match="'conv1.weight'"):
        load_backbone_weights(ResNetFeatures(in_channels=in_channels), path, adapt_input_channels=False)


class _Payload:
    """Unpickling this creates a file: proof that a pickle ran code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_untrusted_pickle_is_refused(tmp_path, tv_state, zipfile):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    torch.save({**tv_state, "payload": _Payload(str(marker))}, path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(ValueError, match="refused, the checkpoint holds pickled objects"):
        _net(pretrained=path)
    with pytest.raises(ValueError, match=f"{path}: refused"):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("name, content", [("garbage.pth", b"hello"), ("empty.pt", b""), ("bad.safetensors", b"xx")])
def test_unreadable_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        _net(pretrained=path)


def test_bool_pretrained_rejected():
    with pytest.raises(TypeError):
        _net(pretrained=False)


@pytest.mark.parametrize("text", ["null", "None", "random"])
def test_command_line_null_means_random_init(text):
    from monai_tumorcls.networks import ResNetClassifier

    net = ResNetClassifier("resnet18", num_classes=2, pretrained=text)
    assert net.backbone_load_result.source is None
