from __future__ import annotations

import pytest
import torch
from torch import nn

from monai.networks import eval_mode
from monai_tumorcls.networks import HEADS, DenseHead, LinearHead, SPPHead, build_head

C, K = 16, 4


@pytest.mark.parametrize("name", sorted(HEADS))
@pytest.mark.parametrize("hw", [(1, 1), (2, 2), (7, 7), (3, 5)])
def test_shapes(name, hw):
    head = build_head(name, in_channels=C, num_classes=K)
    assert isinstance(head, HEADS[name])
    x = torch.randn(3, C, *hw)
    assert head(x).shape == (3, K)
    with eval_mode(head):
        assert head(x).shape == (3, K)


def test_linear_head():
    head = LinearHead(C, K)
    assert isinstance(head.dropout, nn.Identity)
    assert (head.fc.in_features, head.fc.out_features) == (C, K)
    x = torch.randn(2, C, 3, 3)
    torch.testing.assert_close(head(x), head.fc(x.mean(dim=(2, 3))))
    assert LinearHead(C, K, dropout=0.3).dropout.p == 0.3


def test_dense_head_defaults():
    head = DenseHead(C, K)
    assert head.dropout1.p == head.dropout2.p == 0.2
    assert (head.fc1.in_features, head.fc1.out_features) == (C, 128)
    assert (head.fc2.in_features, head.fc2.out_features) == (128, K)
    head = build_head("dense", C, K, hidden_features=32, dropout=0.1)
    assert head.fc1.out_features == 32 and head.dropout1.p == 0.1
    with eval_mode(head):
        x = torch.randn(2, C, 4, 4)
        expected = head.fc2(torch.relu(head.fc1(x.mean(dim=(2, 3)))))
        torch.testing.assert_close(head(x), expected)


def test_spp_head():
    head = SPPHead(C, K)
    assert head.dropout.p == 0.5
    assert head.fc.in_features == C * 21
    head = build_head("spp", C, K, levels=(1, 3), pool="avg", dropout=0.0)
    assert head.fc.in_features == C * 10 and head.spp.pool_type == "avg"
    assert isinstance(head.dropout, nn.Identity)


def test_dropout_active_only_in_training():
    head = DenseHead(C, K, dropout=0.5)
    x = torch.randn(8, C, 2, 2)
    with eval_mode(head):
        torch.testing.assert_close(head(x), head(x))
    torch.manual_seed(0)
    a = head.train()(x)
    b = head(x)
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_gradients_reach_all_parameters(name):
    head = build_head(name, C, K)
    head(torch.randn(2, C, 4, 4)).sum().backward()
    assert all(p.grad is not None for p in head.parameters())


def test_errors():
    with pytest.raises(ValueError):
        build_head("transformer", C, K)
    with pytest.raises(TypeError):
        build_head("linear", C, K, hidden_features=64)
    with pytest.raises(ValueError, match="B, C, h, w"):
        LinearHead(C, K)(torch.randn(2, C))
