"""LesionClassificationLoss: cross-entropy everywhere, Dice + BCE only where the pixels are known."""

from __future__ import annotations

import pytest
import torch

from monai_tumorcls.losses import LesionClassificationLoss


def _batch():
    """Item 0: LGG tumour slice (mask known); 1: Kaggle tumour slice (mask unknown); 2: tumour-free (known, empty)."""
    torch.manual_seed(0)
    logits = torch.randn(3, 2)
    mask = torch.zeros(3, 1, 16, 16)
    mask[0, :, 4:10, 4:10] = 1
    lesion_logits = torch.where(mask > 0, 8.0, -8.0) + 0.1 * torch.randn(3, 1, 16, 16)
    targets = {"label": torch.tensor([1, 1, 0]), "mask": mask, "mask_known": torch.tensor([1.0, 0.0, 1.0])}
    return (logits, lesion_logits), targets


def test_unknown_mask_never_reaches_the_loss():
    pred, targets = _batch()
    loss = LesionClassificationLoss()
    reference = loss(pred, targets)
    for dummy in (torch.ones(1, 16, 16), torch.rand(1, 16, 16)):
        targets["mask"][1] = dummy  # the Kaggle tumour slice's placeholder
        assert loss(pred, targets) == reference
    targets["mask_known"][1] = 1.0  # once known, the same mask counts
    assert loss(pred, targets) > reference


def test_wrong_mask_costs_and_right_mask_costs_little():
    pred, targets = _batch()
    class_only = torch.nn.functional.cross_entropy(pred[0], targets["label"])
    right = LesionClassificationLoss()(pred, targets)
    assert right - class_only < 0.05  # lesion logits of +-8 on the right pixels: Dice + BCE near 0
    wrong = dict(targets, mask=torch.roll(targets["mask"], shifts=6, dims=-1))
    assert LesionClassificationLoss()(pred, wrong) - class_only > 0.5
    empty_known = dict(targets, mask=torch.zeros_like(targets["mask"]))  # the lesion predicted on a tumour-free slice
    assert LesionClassificationLoss()(pred, empty_known) - class_only > 0.5


def test_no_known_mask_is_cross_entropy_alone_and_weight_scales_the_pixel_term():
    pred, targets = _batch()
    class_only = torch.nn.functional.cross_entropy(pred[0], targets["label"])
    none_known = dict(targets, mask_known=torch.zeros(3))
    assert torch.allclose(LesionClassificationLoss()(pred, none_known), class_only)
    wrong = dict(targets, mask=1 - targets["mask"])
    one, two = (LesionClassificationLoss(lesion_weight=w)(pred, wrong) - class_only for w in (1.0, 2.0))
    assert torch.allclose(two, 2 * one)
    assert torch.allclose(LesionClassificationLoss(lesion_weight=0.0)(pred, wrong), class_only)
    with pytest.raises(ValueError):
        LesionClassificationLoss(lesion_weight=-1)


def test_gradients_reach_the_lesion_logits_of_known_items_only():
    pred, targets = _batch()
    logits, lesion_logits = (p.clone().requires_grad_(True) for p in pred)
    LesionClassificationLoss()((logits, lesion_logits), targets).backward()
    per_item = lesion_logits.grad.abs().flatten(1).sum(1)
    assert per_item[1] == 0 and per_item[0] > 0 and per_item[2] > 0
