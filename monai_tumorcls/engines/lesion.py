"""MONAI ``SupervisedTrainer`` wiring of the lesion-grounded classifier (bundle ``resnet18_lesion``).

The trainer's own iteration runs unchanged (AMP, gradient accumulation, iteration events):
:class:`LesionPrepareBatch` hands it the image, a dict of targets (label, mask, mask-known flag) and
``with_lesion=True`` for the network, so the inferer returns ``(class logits, lesion logits)`` and the loss
(:class:`~monai_tumorcls.losses.LesionClassificationLoss`) sees both; :func:`lesion_iteration` then leaves the class
logits and the label in ``engine.state.output``, so postprocessing, metrics and handlers are the classifier's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.engines import PrepareBatch, SupervisedTrainer
from monai.utils import CommonKeys

__all__ = ["LESION_TARGET_KEYS", "LesionPrepareBatch", "lesion_iteration"]

#: batch keys handed to the loss as targets.
LESION_TARGET_KEYS = (CommonKeys.LABEL, "mask", "mask_known")


class LesionPrepareBatch(PrepareBatch):
    """``(image, {label, mask, mask_known}, (), {"with_lesion": True})`` on ``device``: the four-part batch of
    MONAI's ``prepare_batch`` contract, whose kwargs the inferer passes to the network."""

    def __call__(
        self,
        batchdata: Mapping[str, torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], tuple, dict]:
        def to_device(key: str) -> torch.Tensor:
            return torch.as_tensor(batchdata[key]).to(device=device, non_blocking=non_blocking, **kwargs)

        targets = {key: to_device(key) for key in LESION_TARGET_KEYS}
        return to_device(CommonKeys.IMAGE), targets, (), {"with_lesion": True}


def lesion_iteration(engine: SupervisedTrainer, batchdata: Mapping[str, torch.Tensor]) -> dict:
    """``SupervisedTrainer`` ``iteration_update``: the trainer's own iteration, then its output reduced to what a
    classifier's holds (``pred`` = class logits, ``label`` = the class), for the postprocessing and metrics that
    follow. The lesion logits stay available as ``output["lesion"]`` until the next iteration."""
    output = engine._iteration(engine, batchdata)
    logits, lesion_logits = output[CommonKeys.PRED]
    output[CommonKeys.PRED], output["lesion"] = logits, lesion_logits.detach()
    output[CommonKeys.LABEL] = output[CommonKeys.LABEL][CommonKeys.LABEL]
    return output
