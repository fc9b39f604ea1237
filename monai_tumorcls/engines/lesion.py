"""MONAI ``SupervisedTrainer`` wiring of the lesion-grounded classifier (bundle ``resnet18_lesion``).

The trainer's own iteration runs unchanged (AMP, gradient accumulation, iteration events):
:class:`LesionPrepareBatch` hands it the image and a dict of targets (label, mask, mask-known flag),
:class:`LesionInferer` calls the network's ``forward_lesion``, so the trainer's output is ``(class logits, lesion
logits)`` and the loss
(:class:`~monai_tumorcls.losses.LesionClassificationLoss`) sees both; :class:`LesionOutputHandler` then leaves the
class logits and the label in ``engine.state.output``, so postprocessing, metrics and handlers are the classifier's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.engines import IterationEvents, PrepareBatch, SupervisedTrainer
from monai.inferers import Inferer
from monai.utils import CommonKeys

__all__ = ["LESION_TARGET_KEYS", "LesionPrepareBatch", "LesionInferer", "LesionOutputHandler"]

#: batch keys handed to the loss as targets.
LESION_TARGET_KEYS = (CommonKeys.LABEL, "mask", "mask_known")


class LesionPrepareBatch(PrepareBatch):
    """``(image, {label, mask, mask_known})`` on ``device``: MONAI's ``prepare_batch`` contract, with every target
    the loss needs in the second place."""

    def __call__(
        self,
        batchdata: Mapping[str, torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        def to_device(key: str) -> torch.Tensor:
            return torch.as_tensor(batchdata[key]).to(device=device, non_blocking=non_blocking, **kwargs)

        targets = {key: to_device(key) for key in LESION_TARGET_KEYS}
        return to_device(CommonKeys.IMAGE), targets


class LesionInferer(Inferer):
    """The trainer's inferer for a network with a lesion head: ``network.forward_lesion(inputs)`` =
    ``(class logits, lesion logits)`` (the network's ``forward`` stays a plain classifier's, for every other
    engine, export and saliency path)."""

    def __call__(self, inputs: torch.Tensor, network: torch.nn.Module, *args: Any, **kwargs: Any):
        # DistributedDataParallel wraps the network: its own module holds forward_lesion
        return getattr(network, "module", network).forward_lesion(inputs, *args, **kwargs)


class LesionOutputHandler:
    """After the loss of each training iteration (``IterationEvents.LOSS_COMPLETED``), reduce the trainer's output
    to a classifier's: ``pred`` = the class logits, ``label`` = the class; the lesion logits move to ``"lesion"``
    (detached). The trainer's decollation, postprocessing and metrics run later in the iteration
    (``MODEL_COMPLETED``), so they see the output of a plain classifier.

    Example (bundle config)::

        "+train#handlers": [{"_target_": "monai_tumorcls.engines.LesionOutputHandler"}]
    """

    def attach(self, engine: SupervisedTrainer) -> None:
        engine.add_event_handler(IterationEvents.LOSS_COMPLETED, self)

    def __call__(self, engine: SupervisedTrainer) -> None:
        output = engine.state.output
        logits, lesion_logits = output[CommonKeys.PRED]
        output[CommonKeys.PRED], output["lesion"] = logits, lesion_logits.detach()
        output[CommonKeys.LABEL] = output[CommonKeys.LABEL][CommonKeys.LABEL]
