"""One SimCLR training iteration, as the ``iteration_update`` of a MONAI :class:`~monai.engines.SupervisedTrainer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from monai.data import MetaTensor
from monai.engines.utils import IterationEvents
from monai.utils import CommonKeys as Keys

if TYPE_CHECKING:
    from monai.engines import SupervisedTrainer

__all__ = ["SimCLRIteration"]


class SimCLRIteration:
    """SimCLR step: both views through the network in one ``(2B, C, H, W)`` batch, NT-Xent between the two
    halves of the embeddings, one optimiser step.

    Use it as ``SupervisedTrainer(..., iteration_update=SimCLRIteration(), loss_function=NTXentLoss(),
    decollate=False)``. It uses the trainer's ``network``, ``optimizer``, ``loss_function`` (called as
    ``loss(z1, z2)``), ``amp``/``amp_kwargs``/``scaler`` (autocast on the trainer's device type) and
    ``optim_set_to_none``, and fires MONAI's ``IterationEvents`` like the supervised step does.

    Args:
        view_keys: batch keys of the two views, each ``(B, C, H, W)``.
        channels_last: move the inputs to ``torch.channels_last`` (use with a network converted to it).

    Returns (per iteration):
        ``{"loss": detached scalar loss}``, also in ``engine.state.output``.
    """

    def __init__(self, view_keys: Sequence[str] = ("image_view1", "image_view2"), channels_last: bool = False) -> None:
        if len(view_keys) != 2:
            raise ValueError(f"expected two view keys, got {view_keys}.")
        self.view_keys = tuple(view_keys)
        self.channels_last = channels_last

    def _inputs(self, engine: SupervisedTrainer, batchdata: dict) -> torch.Tensor:
        views = []
        for key in self.view_keys:
            if key not in batchdata:
                raise KeyError(f"batch has no view {key!r} (keys: {sorted(map(str, batchdata))}); see TwoViewsd.")
            v = batchdata[key]
            views.append(v.as_tensor() if isinstance(v, MetaTensor) else torch.as_tensor(v))
        if views[0].shape != views[1].shape:
            raise ValueError(f"the two views differ in shape: {tuple(views[0].shape)} vs {tuple(views[1].shape)}.")
        x = torch.cat(views)
        fmt = torch.channels_last if self.channels_last and x.ndim == 4 else torch.contiguous_format
        return x.to(engine.state.device, non_blocking=engine.non_blocking, memory_format=fmt)

    def __call__(self, engine: SupervisedTrainer, batchdata: dict) -> dict:
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        x = self._inputs(engine, batchdata)
        engine.state.output = {}

        def _forward() -> torch.Tensor:
            z1, z2 = engine.network(x).chunk(2)
            engine.fire_event(IterationEvents.FORWARD_COMPLETED)
            loss = engine.loss_function(z1, z2)
            engine.state.output[Keys.LOSS] = loss
            engine.fire_event(IterationEvents.LOSS_COMPLETED)
            return loss

        engine.network.train()
        engine.optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        if engine.amp and engine.scaler is not None:
            with torch.autocast(torch.device(engine.state.device).type, **engine.amp_kwargs):
                loss = _forward()
            engine.scaler.scale(loss).backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.scaler.step(engine.optimizer)
            engine.scaler.update()
        else:
            loss = _forward()
            loss.backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.optimizer.step()
        engine.state.output[Keys.LOSS] = loss.detach()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
