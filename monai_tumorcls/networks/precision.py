"""Mixed precision on the CPU, where MONAI's engines have none (their ``amp`` autocasts on CUDA only)."""

from __future__ import annotations

import torch
from torch import nn

from ..utils.flags import as_flag

__all__ = ["cpu_autocast"]


def cpu_autocast(network: nn.Module, enabled: bool | str = True, dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """Give the bundles' ``amp`` flag a CPU meaning: ``network``'s training forward passes run under
    ``torch.autocast("cpu", dtype)`` (bfloat16 convolutions and matmuls; float32 weights, gradients, optimizer and
    loss), and return ``network``.

    Only in train mode: validation, evaluation, Grad-CAM and inference stay float32, so every reported number comes
    from the float32 model. A network with parameters off the CPU is returned untouched (there MONAI's engines do
    AMP). Hooks rather than a wrapper module keep the state-dict keys, so checkpoints load either way. The output is
    cast back to float32 for the loss. Why: on a CPU with AVX512-BF16 pipeline 3's ResNet-50 trains about twice as
    fast (``docs/benchmarks.md``); on one without it bfloat16 is emulated and slower, so leave ``amp`` off there.
    """
    if not as_flag(enabled, "amp") or any(p.device.type != "cpu" for p in network.parameters()):
        return network
    entered: list[torch.autocast] = []  # one per forward pass still running (a pass may call the network again)

    def forward_pre_hook(module: nn.Module, args):
        context = torch.autocast("cpu", dtype=dtype, enabled=module.training)
        context.__enter__()
        entered.append(context)

    def forward_hook(module: nn.Module, args, output):
        entered.pop().__exit__(None, None, None)
        return output.float() if isinstance(output, torch.Tensor) and output.is_floating_point() else output

    network.register_forward_pre_hook(forward_pre_hook)
    network.register_forward_hook(forward_hook, always_call=True)
    return network
