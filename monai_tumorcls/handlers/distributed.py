"""Distributed (``torch.distributed``) helpers for MONAI engines: which handlers run on which rank, BatchNorm
buffer synchronisation before validation, and a check that every replica ends with the same weights.

All of them are no-ops in a single-process run, so a bundle config can use them unconditionally.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pydoc import locate
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import torch
from monai.utils import IgniteInfo, min_version, optional_import

from monai_tumorcls.utils.distributed import dist_rank, dist_world_size, is_distributed

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = [
    "RANK_ZERO_ONLY_HANDLERS",
    "dist_rank",
    "dist_world_size",
    "handlers_for_rank",
    "BroadcastBuffers",
    "state_checksum",
    "check_replicas_in_sync",
    "ReplicaSyncCheck",
]

logger = logging.getLogger("monai_tumorcls")

#: MONAI handlers that only log or write files and hold no collective operation: kept on rank 0 only.
RANK_ZERO_ONLY_HANDLERS: tuple[str, ...] = (
    "monai.handlers.StatsHandler",
    "monai.handlers.TensorBoardStatsHandler",
    "monai.handlers.TensorBoardImageHandler",
)


def _types(names: Iterable[str | type]) -> tuple[type, ...]:
    out = []
    for n in names:
        t = locate(n) if isinstance(n, str) else n
        if t is None:  # an optional handler whose dependency is absent: nothing to filter
            continue
        out.append(t)
    return tuple(out)


def handlers_for_rank(
    handlers: Sequence | None, rank_zero_only: Iterable[str | type] = RANK_ZERO_ONLY_HANDLERS, rank: int | None = None
) -> list:
    """The handlers this rank attaches: all of them on rank 0, the others without the logging/writing ones.

    Handlers taking part in collective operations (validation, metrics, early stopping, gathering collectors)
    must run on every rank, so only instances of ``rank_zero_only`` are dropped; the checkpoint savers of this
    package already write on their ``save_rank`` only. A dropped TensorBoard handler that opened its own writer
    has it closed and its (empty) event file removed, so ranks other than 0 leave no file behind. ``None``
    entries (components disabled with ``_disabled_``) are skipped.

    Args:
        handlers: the engine's handlers (``None`` for none).
        rank_zero_only: handler classes (or their dotted names) kept on rank 0 only.
        rank: this process's rank; defaults to :func:`dist_rank`.

    Returns:
        a new list, in the original order.
    """
    handlers = [h for h in (handlers or []) if h is not None]
    if (dist_rank() if rank is None else rank) == 0:
        return handlers
    drop = _types(rank_zero_only)
    for h in handlers:
        if isinstance(h, drop):
            _release_writer(h)
    return [h for h in handlers if not isinstance(h, drop)]


def _release_writer(handler) -> None:
    """Close the TensorBoard writer a dropped handler opened itself and remove its (still empty) event file."""
    writer = getattr(handler, "_writer", None)
    if writer is None or not getattr(handler, "internal_writer", False):
        return
    event_writer = getattr(getattr(writer, "file_writer", None), "event_writer", None)
    path = getattr(event_writer, "_file_name", None)
    writer.close()
    if path and os.path.isfile(path):
        os.remove(path)


def _unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return getattr(module, "module", module)


class BroadcastBuffers:
    """Copy the buffers (BatchNorm running statistics) of rank ``src``'s network to every rank on ``event``.

    ``DistributedDataParallel`` broadcasts buffers at the start of each *training* forward pass, so after the
    last iteration of an epoch every rank holds the statistics of its own last batch. Attach this to the trainer
    before the ``ValidationHandler`` (i.e. first in ``train_handlers``) so that every rank validates, and the
    checkpoint records, the same model. Validation should then run the unwrapped module (``network.module``):
    a DDP forward pass is a collective operation and would hang when ranks hold different numbers of
    validation batches (``DistributedSampler(even_divisible=False)``).

    Args:
        network: the (DDP-wrapped or plain) network.
        src: rank whose buffers are kept.
        event: Ignite event name of the attached engine.
    """

    def __init__(self, network: torch.nn.Module, src: int = 0, event: str = "EPOCH_COMPLETED") -> None:
        self.network, self.src, self.event = network, src, event

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(getattr(Events, self.event), self)

    def __call__(self, engine: Engine | None = None) -> None:
        if not is_distributed():
            return
        with torch.no_grad():
            for buf in _unwrap(self.network).buffers():
                torch.distributed.broadcast(buf, src=self.src)


def state_checksum(module_or_state: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a state dict: names, dtypes, shapes and values, independent of memory layout and device.

    A ``DistributedDataParallel`` wrapper is unwrapped first, so the ``module.`` prefix does not change the sum.
    """
    if isinstance(module_or_state, torch.nn.Module):
        state = _unwrap(module_or_state).state_dict()
    else:
        state = module_or_state
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def check_replicas_in_sync(network: torch.nn.Module, raise_error: bool = True) -> str:
    """Log this rank's :func:`state_checksum` and, in a distributed run, check that all ranks agree.

    Logs (INFO, logger ``monai_tumorcls``) ``replica check: rank R of W, model state sha256 <hex>``.

    Args:
        network: the (DDP-wrapped or plain) network.
        raise_error: raise ``RuntimeError`` when the replicas differ (else log an error).

    Returns:
        this rank's checksum.
    """
    digest = state_checksum(network)
    rank, world = dist_rank(), dist_world_size()
    logger.info("replica check: rank %d of %d, model state sha256 %s", rank, world, digest)
    if world > 1:
        digests: list = [None] * world
        torch.distributed.all_gather_object(digests, digest)
        if len(set(digests)) != 1:
            msg = f"model replicas differ after training: {dict(enumerate(digests))}"
            if raise_error:
                raise RuntimeError(msg)
            logger.error(msg)
    return digest


class ReplicaSyncCheck:
    """Handler running :func:`check_replicas_in_sync` on ``network`` when the attached engine completes.

    Attach it to the trainer (last in ``train_handlers``): every rank logs its model checksum and a
    ``RuntimeError`` stops the run if the replicas differ.

    Args:
        network: the (DDP-wrapped or plain) network.
        raise_error: raise when the replicas differ (else log an error).
        event: Ignite event name of the attached engine.
    """

    def __init__(self, network: torch.nn.Module, raise_error: bool = True, event: str = "COMPLETED") -> None:
        self.network, self.raise_error, self.event = network, raise_error, event
        self.checksum: str | None = None

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(getattr(Events, self.event), self)

    def __call__(self, engine: Engine | None = None) -> None:
        self.checksum = check_replicas_in_sync(self.network, raise_error=self.raise_error)
