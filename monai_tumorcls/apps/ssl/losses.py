"""NT-Xent, the normalised temperature-scaled cross-entropy loss of SimCLR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

__all__ = ["NTXentLoss"]


class NTXentLoss(_Loss):
    """NT-Xent loss (Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
    ICML 2020) for a batch of ``B`` positive pairs.

    The ``2B`` embeddings are L2-normalised; for each of them the positive is the other view of the same image
    and the negatives are the ``2B - 2`` views of the other images. The loss is the cross-entropy of picking the
    positive among the ``2B - 1`` candidates from cosine similarities divided by ``temperature``. It equals
    :class:`monai.losses.ContrastiveLoss`; this version uses a single matrix product and ``cross_entropy``
    (numerically stable with small temperatures) and computes in float32 under autocast.

    Args:
        temperature: softmax temperature (SimCLR uses 0.1 to 0.5; lower is sharper).
        reduction: ``"mean"`` (default) or ``"sum"`` over the ``2B`` anchors, or ``"none"`` for the ``(2B,)``
            per-anchor losses (view 1 anchors first).

    Shapes:
        ``z1``, ``z2``: ``(B, D)`` embeddings of the two views (row ``i`` of each from image ``i``), ``B >= 2``;
        output: scalar, or ``(2B,)`` with ``reduction="none"``.
    """

    def __init__(self, temperature: float = 0.5, reduction: str = "mean") -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
        super().__init__(reduction=reduction)
        self.temperature = float(temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        if z1.ndim != 2 or z1.shape != z2.shape:
            raise ValueError(f"expected two (B, D) embeddings of the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}.")
        b = z1.shape[0]
        if b < 2:
            raise ValueError("NT-Xent needs at least 2 pairs per batch (the other pairs are the negatives).")
        z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
        logits = z @ z.t() / self.temperature
        self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(self_mask, float("-inf"))
        targets = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
        return F.cross_entropy(logits, targets, reduction=self.reduction)
