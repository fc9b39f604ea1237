from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from monai.engines import SupervisedTrainer

from monai_tumorcls.networks import ResNetClassifier
from monai_tumorcls.apps.ssl import NTXentLoss, ProjectionHead, SimCLRIteration, SimCLRNet


def test_projection_head_shapes():
    head = ProjectionHead(512, hidden_features=64, out_features=16)
    assert head(torch.randn(4, 512, 2, 2)).shape == (4, 16)
    assert head(torch.randn(4, 512)).shape == (4, 16)


def test_simclr_net_shapes_and_torchvision_trunk_keys():
    net = SimCLRNet("resnet18", projection_dim=32, hidden_dim=64)
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 32)
    keys = list(net.features.state_dict())
    assert keys[0] == "conv1.weight" and any(k.startswith("layer4.1.bn2") for k in keys)
    clf = ResNetClassifier("resnet18", num_classes=2, pretrained=net.features.state_dict())
    assert clf.backbone_load_result.missing == [] and clf.backbone_load_result.unexpected == []
    assert torch.equal(clf.features.conv1.weight, net.features.conv1.weight)


def test_iteration_trains_the_network_with_a_monai_trainer():
    torch.manual_seed(0)
    net = SimCLRNet("resnet18", projection_dim=16, hidden_dim=32).to(memory_format=torch.channels_last)
    before = net.features.conv1.weight.detach().clone()
    batches = [{"image_view1": torch.randn(4, 3, 32, 32), "image_view2": torch.randn(4, 3, 32, 32)} for _ in range(2)]
    losses = []
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=batches,
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
        loss_function=NTXentLoss(0.5),
        iteration_update=SimCLRIteration(channels_last=True),
        decollate=False,
    )
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output["loss"]))
    trainer.run()
    assert len(losses) == 2 and all(torch.isfinite(v) and not v.requires_grad for v in losses)
    assert not torch.equal(before, net.features.conv1.weight)


def test_iteration_reports_missing_views():
    net = SimCLRNet("resnet18", projection_dim=8, hidden_dim=8)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=[{"image": torch.randn(2, 3, 32, 32)}],
        network=net, optimizer=torch.optim.SGD(net.parameters(), lr=0.1), loss_function=NTXentLoss(),
        iteration_update=SimCLRIteration(), decollate=False,
    )
    with pytest.raises(KeyError, match="image_view1"):
        trainer.run()
