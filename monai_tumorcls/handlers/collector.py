"""Per-item row collection over an Ignite run, gathered across ranks (base of the report/prediction handlers)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from monai.engines.utils import IterationEvents
from monai.utils import IgniteInfo, min_version, optional_import

from .distributed import dist_rank, dist_world_size

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["ItemCollector", "RawOutputs", "item_filename", "merged_items", "to_scalar"]


def item_filename(item: dict, keys: Sequence[str] = ("image_path", "image")) -> str:
    """Best source file name of a decollated item: a string key, else ``MetaTensor.meta['filename_or_obj']``."""
    for k in keys:
        v = item.get(k)
        if isinstance(v, str):
            return v
        meta = getattr(v, "meta", None)
        if meta and meta.get("filename_or_obj"):
            return str(meta["filename_or_obj"])
    return ""


def to_scalar(v: Any) -> Any:
    """Python scalar of a one-element tensor or array; other values unchanged."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    if isinstance(v, (np.ndarray, np.generic)) and v.size == 1:
        return v.item()
    return v


def merged_items(batch: Any, output: Any) -> list[dict]:
    """Per-item dicts merging ``engine.state.batch`` and ``engine.state.output``.

    MONAI engines keep the datalist's own fields (file path, flags such as ``duplicate_in_training``, ``error``)
    in ``engine.state.batch`` and the network's results (``pred``, ``label``) in ``engine.state.output``; both are
    decollated lists of dicts after postprocessing. Output keys win on conflicts.
    """
    outputs = output if isinstance(output, list) else [output]
    batches = batch if isinstance(batch, list) and len(batch) == len(outputs) else [{}] * len(outputs)
    return [{**(b if isinstance(b, dict) else {}), **o} for b, o in zip(batches, outputs)]


class RawOutputs:
    """The network's raw output (e.g. logits) of each item of the current iteration, captured before the
    postprocessing: MONAI engines fire ``FORWARD_COMPLETED`` between the forward pass and the postprocessing (run at
    ``ITERATION_COMPLETED``). What a handler needs to check them: a ``-inf`` logit still gives finite probabilities.
    On a plain Ignite engine (no such event) nothing is captured.

    Args:
        key: key of the network output in ``engine.state.output`` (a batched tensor).
    """

    def __init__(self, key: str = "pred") -> None:
        self.key = key
        self.items: list[torch.Tensor] | None = None

    def attach(self, engine: Engine) -> None:
        try:
            engine.add_event_handler(IterationEvents.FORWARD_COMPLETED, self._capture)
        except ValueError:  # a plain Ignite engine: the event is not registered, nothing to capture
            pass

    def _capture(self, engine: Engine) -> None:
        output = engine.state.output
        pred = output.get(self.key) if isinstance(output, dict) else None
        self.items = list(pred.detach().cpu()) if isinstance(pred, torch.Tensor) and pred.ndim else None

    def take(self, n_items: int) -> list[torch.Tensor] | None:
        """The captured outputs of the current iteration when there are ``n_items`` of them (else ``None``), once."""
        items, self.items = self.items, None
        return items if items is not None and len(items) == n_items else None


class ItemCollector:
    """Collects one row per evaluated item (:func:`merged_items` of batch and output) during a run and hands
    the gathered rows of all ranks to :meth:`finalize` on rank ``save_rank`` when the run completes.

    Subclasses implement :meth:`row` (item -> JSON-serialisable dict) and :meth:`finalize` (rows -> files).
    """

    def __init__(self, save_rank: int = 0, name: str | None = None) -> None:
        self.save_rank = save_rank
        self.logger = logging.getLogger(name or type(self).__name__)
        self.rows: list[dict] = []

    def attach(self, engine: Engine) -> None:
        """Register with ``engine``: reset at start, collect each iteration, finalize at completion."""
        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._complete)

    def _reset(self, engine: Engine) -> None:
        self.rows = []

    def _collect(self, engine: Engine) -> None:
        self.rows.extend(self.row(it) for it in merged_items(engine.state.batch, engine.state.output))

    def _gather(self) -> list[dict] | None:
        if dist_world_size() == 1:
            return self.rows
        gathered: list = [None] * dist_world_size()
        torch.distributed.all_gather_object(gathered, self.rows)
        if dist_rank() != self.save_rank:
            return None
        return [r for part in gathered for r in part]

    def _complete(self, engine: Engine) -> None:
        rows = self._gather()
        if rows is not None:
            self.finalize(rows, engine)

    def row(self, item: dict) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def finalize(self, rows: list[dict], engine: Engine | None = None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
