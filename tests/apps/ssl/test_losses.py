from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from monai.losses import ContrastiveLoss

from monai_tumorcls.apps.ssl import NTXentLoss


def _reference(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    """NT-Xent written out anchor by anchor (SimCLR, eq. 1 averaged over the 2B anchors)."""
    z = [F.normalize(v, dim=0) for v in torch.cat([z1, z2])]
    n, b = len(z), len(z1)
    total = 0.0
    for i in range(n):
        j = (i + b) % n
        sims = {k: float(z[i] @ z[k]) / t for k in range(n) if k != i}
        total += -math.log(math.exp(sims[j]) / sum(math.exp(s) for s in sims.values()))
    return total / n


def _pairs(b: int = 8, d: int = 16, noise: float = 0.05):
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(b, d, generator=g)
    return z1, z1 + noise * torch.randn(b, d, generator=g)


def test_matches_hand_computation_and_monai():
    z1, z2 = _pairs(noise=0.5)
    for t in (0.1, 0.5, 1.0):
        loss = NTXentLoss(temperature=t)(z1, z2)
        assert loss.item() == pytest.approx(_reference(z1, z2, t), rel=1e-5)
        assert loss.item() == pytest.approx(ContrastiveLoss(temperature=t)(z1, z2).item(), rel=1e-4)


def test_aligned_pairs_beat_shuffled_pairs():
    z1, z2 = _pairs()
    loss = NTXentLoss(0.5)
    aligned = loss(z1, z2)
    shuffled = loss(z1, z2[torch.roll(torch.arange(len(z2)), 1)])
    assert aligned < shuffled
    assert aligned < math.log(2 * len(z1) - 1) < shuffled  # log(2B - 1): the loss of uninformative embeddings


def test_symmetric_scale_invariant_and_reductions():
    z1, z2 = _pairs(noise=0.3)
    loss = NTXentLoss(0.2)
    assert loss(z1, z2).item() == pytest.approx(loss(z2, z1).item(), rel=1e-6)
    assert loss(3.0 * z1, 0.5 * z2).item() == pytest.approx(loss(z1, z2).item(), rel=1e-5)
    per_anchor = NTXentLoss(0.2, reduction="none")(z1, z2)
    assert per_anchor.shape == (2 * len(z1),)
    assert per_anchor.mean().item() == pytest.approx(loss(z1, z2).item(), rel=1e-6)
    assert NTXentLoss(0.2, reduction="sum")(z1, z2).item() == pytest.approx(per_anchor.sum().item(), rel=1e-6)


def test_gradients_and_half_precision_inputs():
    z1, z2 = _pairs(noise=0.3)
    z1.requires_grad_(True)
    loss = NTXentLoss(0.1)(z1.bfloat16(), z2.bfloat16())
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "z1, z2",
    [(torch.zeros(4, 3), torch.zeros(4, 2)), (torch.zeros(4), torch.zeros(4)), (torch.zeros(1, 3), torch.zeros(1, 3))],
)
def test_rejects_bad_shapes(z1, z2):
    with pytest.raises(ValueError):
        NTXentLoss()(z1, z2)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        NTXentLoss(temperature=0.0)
    with pytest.raises(ValueError):
        NTXentLoss(reduction="max")
