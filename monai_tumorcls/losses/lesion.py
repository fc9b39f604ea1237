"""Cross-entropy on every slice plus Dice + BCE on the slices whose pixels are known.

Which pixels are known is a per-item flag (``mask_known``), set by
:class:`~monai_tumorcls.transforms.LesionTargetd`: LGG slices (manual masks, an empty mask for their tumour-free
slices) and slices known to be tumour-free (IXI, Kaggle ``notumor``: empty targets) are known; Kaggle tumour slices,
whose class is known but not where the tumour is, are not, and their dummy mask never reaches the loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from monai.losses import DiceCELoss
from monai.utils import CommonKeys

__all__ = ["LesionClassificationLoss"]


class LesionClassificationLoss(nn.Module):
    """``class_loss(logits, label) + lesion_weight * pixel_loss(lesion logits, mask)``, the pixel term over the
    items whose ``mask_known`` is set (0 when a batch has none).

    Args:
        lesion_weight: weight of the pixel term.
        class_loss: defaults to ``torch.nn.CrossEntropyLoss()``.
        pixel_loss: defaults to MONAI's ``DiceCELoss(sigmoid=True, batch=True)`` (one channel: Dice + BCE). The
            Dice is pooled over the batch's known items, so an empty target (a tumour-free slice) adds its false
            positives to the denominator instead of a per-slice Dice of 0/0.

    Inputs:
        pred: ``(class logits (B, C), lesion logits (B, 1, H, W))``, as ``LesionClassifier.forward_lesion(x)``.
        targets: ``{"label": (B,), "mask": (B, 1, H, W) in [0, 1], "mask_known": (B,)}``
            (:class:`~monai_tumorcls.engines.LesionPrepareBatch`).
    """

    def __init__(
        self, lesion_weight: float = 1.0, class_loss: nn.Module | None = None, pixel_loss: nn.Module | None = None
    ) -> None:
        super().__init__()
        if lesion_weight < 0:
            raise ValueError(f"lesion_weight must be >= 0, got {lesion_weight}")
        self.lesion_weight = float(lesion_weight)
        self.class_loss = class_loss if class_loss is not None else nn.CrossEntropyLoss()
        self.pixel_loss = pixel_loss if pixel_loss is not None else DiceCELoss(sigmoid=True, batch=True)

    def forward(self, pred: Sequence[torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        logits, lesion_logits = pred
        loss = self.class_loss(logits.float(), torch.as_tensor(targets[CommonKeys.LABEL]).reshape(-1).long())
        known = torch.as_tensor(targets["mask_known"]).reshape(-1) > 0.5
        if self.lesion_weight > 0 and bool(known.any()):
            mask = torch.as_tensor(targets["mask"])[known].float()
            loss = loss + self.lesion_weight * self.pixel_loss(lesion_logits[known].float(), mask)
        return loss
