from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torchvision
from torch import nn

from monai_tumorcls.networks import (
    ResNetClassifier,
    count_parameters,
    freeze_backbone,
    frozen_bn_modules,
    parameter_summary,
    parse_trainable_policy,
    set_trainable,
    trainable_parameters,
)


@pytest.fixture
def net() -> ResNetClassifier:
    torch.manual_seed(0)
    return ResNetClassifier("resnet18", num_classes=3, head="dense")


def _x(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 3, 64, 64)


def _trainable_names(model: nn.Module) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("head", ("head",)),
        ("layer4+head", ("layer4", "head")),
        (" Layer3 + layer4 + HEAD ", ("layer3", "layer4", "head")),
        ("layer3,layer4,head", ("layer3", "layer4", "head")),
        ("features+head", ("features", "head")),
        ("all", ("all",)),
        ("none", ()),
    ],
)
def test_parse_policy(policy, expected):
    assert parse_trainable_policy(policy) == expected


@pytest.mark.parametrize("policy", ["", "layer4+", "layer5+head", "all+head", "none+head", "fc"])
def test_parse_policy_errors(policy):
    with pytest.raises(ValueError, match="invalid trainable policy"):
        parse_trainable_policy(policy)


def test_freeze_backbone(net):
    freeze_backbone(net)
    head_names = {f"head.{n}" for n, _ in net.head.named_parameters()}
    assert _trainable_names(net) == head_names
    assert trainable_parameters(net) == list(net.head.parameters())
    counts = count_parameters(net)
    assert counts.trainable == sum(p.numel() for p in net.head.parameters())
    assert counts.total == sum(p.numel() for p in net.parameters())
    assert counts.frozen == counts.total - counts.trainable


@pytest.mark.parametrize(
    "policy, prefixes",
    [
        ("layer4+head", ("features.layer4.", "head.")),
        ("layer3+layer4+head", ("features.layer3.", "features.layer4.", "head.")),
        (("layer3", "layer4", "head"), ("features.layer3.", "features.layer4.", "head.")),
        (("features.layer4", "head.fc2"), ("features.layer4.", "head.fc2.")),
        ("conv1+bn1+head", ("features.conv1.", "features.bn1.", "head.")),
        ("features", ("features.",)),
    ],
)
def test_set_trainable_policies(net, policy, prefixes):
    set_trainable(net, policy)
    names = {n for n, _ in net.named_parameters()}
    assert _trainable_names(net) == {n for n in names if n.startswith(prefixes)}


def test_default_trainable_and_all_and_none(net):
    set_trainable(net)
    assert all(n.startswith(("features.layer3.", "features.layer4.", "head.")) for n in _trainable_names(net))
    assert any(n.startswith("features.layer3.") for n in _trainable_names(net))
    set_trainable(net, "none")
    assert trainable_parameters(net) == []
    set_trainable(net, "all")
    assert len(trainable_parameters(net)) == len(list(net.parameters()))
    assert frozen_bn_modules(net) == []


def test_set_trainable_unknown_name(net):
    with pytest.raises(ValueError, match="no module named 'layer9'"):
        set_trainable(net, ("layer9",))


def _bn_stats(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        n: m.running_mean.clone() for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    }


def test_frozen_bn_stays_in_eval_mode(net):
    set_trainable(net, "layer4+head")
    frozen = set(frozen_bn_modules(net))
    assert "features.bn1" in frozen and "features.layer3.1.bn2" in frozen
    assert not any(n.startswith("features.layer4") for n in frozen)
    net.train()
    assert net.training and net.head.training
    assert not net.features.bn1.training and net.features.layer4[0].bn1.training
    before = _bn_stats(net)
    net(_x())
    after = _bn_stats(net)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        assert changed == name.startswith("features.layer4"), name


def test_frozen_bn_via_forward_hook_on_plain_modules(net):
    """Also holds where train() is not overridden: set train mode on the trunk module directly."""
    freeze_backbone(net)
    net.features.train()
    assert net.features.bn1.training  # plain nn.Sequential.train() ...
    before = _bn_stats(net.features)
    net.features(_x())
    assert not net.features.bn1.training  # ... the forward pre-hook puts it back to eval
    after = _bn_stats(net.features)
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_torchvision_resnet_policy():
    tv = torchvision.models.resnet18(weights=None, num_classes=3)
    set_trainable(tv, ("layer4", "fc"))
    assert all(n.startswith(("layer4.", "fc.")) for n in _trainable_names(tv))
    tv.train()
    before = _bn_stats(tv)
    tv(_x())
    after = _bn_stats(tv)
    assert torch.equal(before["bn1"], after["bn1"]) and not torch.equal(before["layer4.0.bn1"], after["layer4.0.bn1"])


def test_freeze_bn_false_updates_running_stats(net):
    freeze_backbone(net, freeze_bn=False)
    assert frozen_bn_modules(net) == []
    net.train()
    before = _bn_stats(net)
    net(_x())
    after = _bn_stats(net)
    assert all(not torch.equal(before[n], after[n]) for n in before)


def test_unfreezing_restores_bn_training(net):
    freeze_backbone(net)
    net.train()
    set_trainable(net, "all")
    assert net.features.bn1.training and frozen_bn_modules(net) == []
    before = _bn_stats(net)
    net(_x())
    assert not torch.equal(before["features.bn1"], _bn_stats(net)["features.bn1"])


def test_eval_still_works_when_frozen(net):
    freeze_backbone(net)
    net.eval()
    assert not any(m.training for m in net.modules())


def test_frozen_trunk_is_not_recorded_by_autograd(net):
    freeze_backbone(net)
    net.train()
    feats = net.forward_features(_x())
    assert not feats.requires_grad and feats.grad_fn is None
    loss = nn.functional.cross_entropy(net(_x()), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert all(p.grad is None for p in net.features.parameters())
    assert all(p.grad is not None for p in net.head.parameters())


def test_partially_frozen_trunk_records_only_trainable_stages(net):
    set_trainable(net, "layer4+head")
    net.train()
    x = _x()
    h = x
    for name, stage in net.features.named_children():
        h = stage(h)
        if name == "layer3":
            assert h.grad_fn is None and not h.requires_grad  # nothing below layer4 is recorded
    assert h.requires_grad
    net.head(h).sum().backward()
    for name, p in net.features.named_parameters():
        assert (p.grad is not None) == name.startswith("layer4."), name


def test_optimizer_step_changes_only_trainable(net):
    set_trainable(net, "layer4+head")
    frozen_before = {n: p.detach().clone() for n, p in net.named_parameters() if not p.requires_grad}
    opt = torch.optim.SGD(trainable_parameters(net), lr=0.1)
    net.train()
    net(_x()).sum().backward()
    opt.step()
    assert all(torch.equal(p, frozen_before[n]) for n, p in net.named_parameters() if n in frozen_before)


def test_deepcopy_and_pickle_keep_frozen_bn(net):
    freeze_backbone(net)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert frozen_bn_modules(clone) == frozen_bn_modules(net)
        clone.train()
        before = _bn_stats(clone)
        clone(_x())
        after = _bn_stats(clone)
        assert all(torch.equal(before[n], after[n]) for n in before)
    assert net.state_dict().keys() == ResNetClassifier("resnet18", 3, head="dense").state_dict().keys()


def test_parameter_summary(net):
    set_trainable(net, "layer4+head")
    text = parameter_summary(net)
    lines = text.splitlines()
    stages = [line.split()[0] for line in lines[1:-1]]
    assert stages == [f"features.{s}" for s in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")] + ["head"]
    counts = count_parameters(net)
    assert lines[-1].split()[1:3] == [f"{counts.trainable:,}", f"{counts.total:,}"]
    assert "15 BatchNorm layers frozen" in text
