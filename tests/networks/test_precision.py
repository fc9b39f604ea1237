"""``cpu_autocast``: bfloat16 training forward passes on the CPU, float32 everywhere else (synthetic)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.networks import cpu_autocast

from ..bundles.helpers import PROJECT_ROOT


class _Recorder(nn.Module):
    """conv -> flatten -> linear, remembering the dtype its convolution computed in."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4 * 6 * 6, 2)
        self.conv_dtypes: list[torch.dtype] = []
        self.conv.register_forward_hook(lambda m, a, out: self.conv_dtypes.append(out.dtype))

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def _x() -> torch.Tensor:
    return torch.randn(2, 3, 8, 8)


def test_training_forward_runs_in_bfloat16_and_returns_float32():
    net = cpu_autocast(_Recorder(), True).train()
    out = net(_x())
    assert net.conv_dtypes == [torch.bfloat16] and out.dtype == torch.float32
    out.sum().backward()  # gradients reach the float32 weights
    assert net.conv.weight.grad.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")


def test_eval_mode_and_disabled_flag_stay_float32():
    net = cpu_autocast(_Recorder(), "true").eval()
    net(_x())
    plain = cpu_autocast(_Recorder(), "false").train()
    plain(_x())
    assert net.conv_dtypes == [torch.float32] and plain.conv_dtypes == [torch.float32]
    assert not plain._forward_pre_hooks  # nothing attached when amp is off


def test_state_dict_keys_unchanged_and_autocast_left_after_an_error():
    net = _Recorder()
    keys = list(net.state_dict())
    cpu_autocast(net).train()
    assert list(net.state_dict()) == keys
    with pytest.raises(RuntimeError):
        net(torch.randn(2, 5, 8, 8))  # wrong channel count: the forward pass fails inside autocast
    assert not torch.is_autocast_enabled("cpu")


@pytest.mark.parametrize("bundle, trainer", [(b, "train#trainer") for b in (
    "resnet18_binary", "resnet18_multisource", "resnet50_4class", "resnet50_spp_binary", "resnet18_4class",
    "resnet50_finetune_4class")] + [("ssl_simclr_resnet18", "trainer")])
def test_bundle_amp_flag_autocasts_the_cpu_network_only(bundle, trainer, tmp_path):
    """The SimCLR bundle too: its own step would autocast with a disabled CUDA GradScaler on the CPU, so its trainer is
    told amp is off there and the network hooks hand NT-Xent float32 projections."""
    parser = load_bundle_config(PROJECT_ROOT / "bundles" / bundle, "train.json",
                                {"bundle_root": str(tmp_path), "amp": "true", "device": "$torch.device('cpu')"})
    network = parser.get_parsed_content("network").train()
    dtypes = []
    network.features.conv1.register_forward_hook(lambda m, a, out: dtypes.append(out.dtype))
    assert network(torch.randn(4, 3, 64, 64)).dtype == torch.float32 and dtypes == [torch.bfloat16]
    # MONAI's engines autocast on CUDA only: on the CPU they are told amp is off (no disabled GradScaler)
    assert parser.get_parsed_content(f"{trainer}#amp", instantiate=False) is False
