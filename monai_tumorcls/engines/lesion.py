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
from ignite.engine import Engine, Events
from monai.engines import IterationEvents, PrepareBatch, SupervisedTrainer
from monai.inferers import Inferer
from monai.metrics import DiceMetric
from monai.networks import eval_mode
from monai.utils import CommonKeys

from ..checkpoint.lesion_threshold import LESION_THRESHOLD

__all__ = ["LESION_TARGET_KEYS", "LesionPrepareBatch", "LesionInferer", "LesionOutputHandler", "LesionDiceHandler"]

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


class LesionDiceHandler:
    """The validator's lesion measure: at the end of each validation run, the mean Dice of the thresholded lesion map
    over the slices of ``data_loader`` whose lesion is known and not empty, in ``engine.state.metrics[name]``, so
    that checkpoint selection, early stopping and the stats handlers can use it like the validator's own metrics.

    A separate pass, because the validator's forward is the plain classifier's (its postprocessing, metrics and
    report handlers stay a classifier's, in training and in evaluation). Tumour-free and class-only slices have an
    empty target and do not count (MONAI ``DiceMetric(ignore_empty=True)``); an empty map on a tumour slice counts 0.
    Attach it before the handlers that read the metric.

    Args:
        network: the network with ``forward_lesion`` (see :class:`LesionInferer`).
        data_loader: batches with ``image`` and the :data:`LESION_TARGET_KEYS` (e.g. LGG validation tumour slices).
        name: the metric's key.
        threshold: lesion probability that makes a lesion pixel.

    Example (bundle config, first in ``validate#handlers``)::

        {"_target_": "monai_tumorcls.engines.LesionDiceHandler", "network": "@network",
         "data_loader": "@validate#lesion_dataloader"}
    """

    def __init__(self, network: torch.nn.Module, data_loader, name: str = "val_dice",
                 threshold: float = LESION_THRESHOLD):
        self.network, self.data_loader, self.name, self.threshold = network, data_loader, name, threshold

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        dice = DiceMetric(include_background=True, ignore_empty=True)
        prepare, infer = LesionPrepareBatch(), LesionInferer()
        device = next(self.network.parameters()).device
        with eval_mode(self.network):
            for batch in self.data_loader:
                images, targets = prepare(batch, device)
                lesion_logits = infer(images, self.network)[1]
                dice(y_pred=(lesion_logits.sigmoid() >= self.threshold).float(), y=targets["mask"])
        # nan when no slice of the loader holds a lesion
        engine.state.metrics[self.name] = dice.aggregate().item()
