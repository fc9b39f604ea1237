"""Small output transforms for Ignite metrics on MONAI engines."""

from __future__ import annotations

import torch

__all__ = ["stack_pred_label", "stack_pred_onehot"]


def stack_pred_label(output, pred_key: str = "pred", label_key: str = "label") -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred (B, C), label (B,) long)`` from ``engine.state.output``, decollated (list of dicts) or not.

    For Ignite metrics such as ``ignite.metrics.Accuracy`` that expect batched tensors.
    """
    items = output if isinstance(output, list) else None
    if items is None:
        return output[pred_key], output[label_key].reshape(-1).long()
    pred = torch.stack([torch.as_tensor(it[pred_key]) for it in items])
    label = torch.stack([torch.as_tensor(it[label_key]).reshape(()) for it in items]).long()
    return pred, label


def stack_pred_onehot(output, pred_key: str = "pred", label_key: str = "label") -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred (B, C) float32, one-hot label (B, C))`` from ``engine.state.output``, for MONAI's ``ROCAUC`` handler
    (one-vs-rest per class, averaged: the binary AUC for two classes)."""
    pred, label = stack_pred_label(output, pred_key, label_key)
    return pred.float(), torch.nn.functional.one_hot(label, pred.shape[1])
