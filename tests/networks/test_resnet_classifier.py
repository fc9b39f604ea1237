from __future__ import annotations

import copy
import logging

import pytest
import torch
import torchvision
from torch import nn

from monai.networks import eval_mode
from monai_tumorcls.networks import (
    HEADS,
    RESNET_BACKBONES,
    DenseHead,
    HeadOptions,
    LinearHead,
    ResNetClassifier,
    ResNetFeatures,
    SPPHead,
)

TRUNK_CHILDREN = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]


@pytest.mark.parametrize("backbone", sorted(RESNET_BACKBONES))
@pytest.mark.parametrize("head", sorted(HEADS))
def test_in_out_shapes(backbone, head):
    """verify_net_in_out-style: every backbone x head, batch 1 in eval mode, 64x64 input."""
    net = ResNetClassifier(backbone, num_classes=3, head=head)
    assert net.out_channels == RESNET_BACKBONES[backbone] == (512 if backbone in ("resnet18", "resnet34") else 2048)
    x = torch.randn(1, 3, 64, 64)
    with eval_mode(net):
        assert net.forward_features(x).shape == (1, net.out_channels, 2, 2)
        assert net(x).shape == (1, 3)


@pytest.mark.parametrize(
    "in_shape, feat_hw", [((2, 3, 64, 64), (2, 2)), ((2, 3, 96, 80), (3, 3)), ((2, 3, 224, 224), (7, 7))]
)
def test_resnet18_train_mode_shapes(in_shape, feat_hw):
    net = ResNetClassifier("resnet18", num_classes=4, head="spp")
    assert net.forward_features(torch.randn(in_shape)).shape == (2, 512, *feat_hw)
    out = net(torch.randn(in_shape))
    assert out.shape == (2, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_structure_and_state_dict_keys():
    net = ResNetClassifier("resnet18", num_classes=2)
    assert isinstance(net.features, ResNetFeatures)
    assert [n for n, _ in net.features.named_children()] == TRUNK_CHILDREN
    assert net.backbone == "resnet18" and net.features.arch == "resnet18"
    assert isinstance(net.head, LinearHead)
    keys = net.state_dict().keys()
    assert "features.conv1.weight" in keys and "features.layer4.1.bn2.running_var" in keys
    assert all(k.startswith(("features.", "head.")) for k in keys)
    assert net.backbone_load_result.source is None


def test_torchvision_state_dict_loads_and_matches_torchvision():
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None, num_classes=5)
    net = ResNetClassifier("resnet18", num_classes=5)
    trunk_sd = {k: v for k, v in tv.state_dict().items() if not k.startswith("fc.")}
    net.features.load_state_dict(trunk_sd, strict=True)
    net.head.fc.load_state_dict(tv.fc.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with eval_mode(net, tv):
        torch.testing.assert_close(net(x), tv(x))


def test_heads_options():
    assert isinstance(ResNetClassifier(head="dense").head, DenseHead)
    net = ResNetClassifier(head="dense", head_options=HeadOptions(dropout=0.3, hidden_features=64), num_classes=4)
    assert net.head.fc1.out_features == 64 and net.head.dropout1.p == 0.3 and net.head.fc2.out_features == 4
    assert ResNetClassifier(head="dense").head.dropout1.p == 0.2  # head defaults when dropout is None
    spp = ResNetClassifier(head="spp", head_options=HeadOptions(spp_levels=(1, 2), spp_pool="avg")).head
    assert isinstance(spp, SPPHead) and spp.dropout.p == 0.5
    assert spp.fc.in_features == 512 * 5 and spp.spp.pool_type == "avg"
    assert ResNetClassifier(head="linear", head_options=HeadOptions(dropout=0.25)).head.dropout.p == 0.25


def test_custom_head_module():
    head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(512, 7))
    net = ResNetClassifier(head=head)
    assert net.head is head
    with eval_mode(net):
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 7)


@pytest.mark.parametrize("in_channels", [1, 4])
def test_in_channels(in_channels):
    net = ResNetClassifier(in_channels=in_channels, num_classes=2)
    assert net.features.conv1.in_channels == in_channels
    assert net.features.conv1.weight.shape == (64, in_channels, 7, 7)
    assert net(torch.randn(2, in_channels, 64, 64)).shape == (2, 2)


def test_random_init_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="monai_tumorcls.networks"):
        ResNetClassifier("resnet18", pretrained=None)
    assert "random initialisation" in caplog.text


def test_invalid_arguments():
    with pytest.raises(ValueError):
        ResNetClassifier("resnet19")
    with pytest.raises(ValueError):
        ResNetClassifier(head="mlp")
    with pytest.raises(ValueError):
        ResNetClassifier(num_classes=0)
    with pytest.raises(TypeError, match="None, 'imagenet' or a path"):
        ResNetClassifier(pretrained=True)


def test_deepcopy():
    net = ResNetClassifier(head="spp")
    clone = copy.deepcopy(net)
    x = torch.randn(1, 3, 64, 64)
    with eval_mode(net, clone):
        torch.testing.assert_close(net(x), clone(x))
