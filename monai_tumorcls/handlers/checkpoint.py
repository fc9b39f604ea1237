"""The Ignite handler that saves checkpoints atomically (reading them is :mod:`monai_tumorcls.checkpoint`'s job)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import torch
from monai.utils import IgniteInfo, min_version, optional_import

from monai_tumorcls.checkpoint import DIGEST_KEY, METADATA_KEY, checkpoint_digest
from monai_tumorcls.utils.atomic import atomic_torch_save, atomic_write_text
from monai_tumorcls.utils.deprecation import moved_keywords

from .distributed import dist_rank

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["AtomicCheckpointSaver", "BestCheckpoint", "state_dict_of"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BestCheckpoint:
    """Which checkpoint an :class:`AtomicCheckpointSaver` keeps as the best one.

    Attributes:
        metric: key metric in ``engine.state.metrics`` deciding the best checkpoint; ``None`` (default): no best
            checkpoint.
        mode: ``"max"`` or ``"min"``: which metric values are better.
        filename: file name of the best checkpoint.
    """

    metric: str | None = None
    mode: str = "max"
    filename: str = "model.pt"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {self.mode!r}")


_OLD_KEYWORDS = {"metric_name": "metric", "mode": "mode", "key_metric_filename": "filename"}

def state_dict_of(obj) -> dict:
    """``state_dict()`` of a module (unwrapping DataParallel/DDP ``.module``), optimizer or scheduler."""
    obj = getattr(obj, "module", obj) if isinstance(obj, torch.nn.Module) else obj
    return obj.state_dict()


class AtomicCheckpointSaver:
    """Saves the best checkpoint (by a key metric of the attached engine) and/or a final one, atomically.

    With one entry in ``save_dict`` and no ``metadata`` the file holds that object's plain ``state_dict`` (as
    MONAI's ``CheckpointSaver`` does), else ``{name: state_dict}`` plus ``"metadata"`` and its ``"digest"`` when given
    (:mod:`monai_tumorcls.checkpoint`). A JSON sidecar
    ``<file>.json`` records the epoch and metric. Files load with ``torch.load(..., weights_only=True)``.

    Args:
        save_dir: destination folder.
        save_dict: name -> module/optimizer to save.
        best: the key metric deciding the best checkpoint, its direction and the file name (:class:`BestCheckpoint`;
            default: no best checkpoint).
        final_filename: if set, the file written when the attached engine completes.
        trainer: the trainer, to record its epoch in the sidecar (the validation engine's own epoch is always 1).
        save_rank: rank that writes in distributed runs.
        metadata: plain-typed description stored under ``"metadata"`` (what inference needs to rebuild the model,
            :func:`~monai_tumorcls.checkpoint.checkpoint_metadata`).
        old_keywords: ``metric_name``, ``mode``, ``key_metric_filename``: deprecated spellings of ``best`` (a
            ``FutureWarning``; they go in the next release).
    """

    def __init__(self, save_dir: str | Path, save_dict: Mapping[str, object], best: BestCheckpoint | None = None,
                 final_filename: str | None = None, trainer: Engine | None = None, save_rank: int = 0,
                 metadata: Mapping | None = None, **old_keywords) -> None:
        best = moved_keywords("AtomicCheckpointSaver", best, BestCheckpoint, old_keywords, _OLD_KEYWORDS,
                              accepted=_OLD_KEYWORDS)
        self.save_dir = Path(save_dir)
        self.save_dict = dict(save_dict)
        self.best_checkpoint, self.final_filename = best, final_filename
        self.trainer, self.save_rank = trainer, save_rank
        self.metadata = dict(metadata) if metadata else None
        self.best: float | None = None
        self.best_epoch: int | None = None

    def attach(self, engine: Engine) -> None:
        if self.best_checkpoint.metric:
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._on_epoch)
        if self.final_filename:
            engine.add_event_handler(Events.COMPLETED, self._on_complete)

    def state_dict(self) -> dict:
        """The best score so far and its epoch, kept in the training state so that a resumed run keeps them."""
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: Mapping) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]

    def _payload(self) -> dict:
        if len(self.save_dict) == 1 and not self.metadata:
            return state_dict_of(next(iter(self.save_dict.values())))
        payload = {k: state_dict_of(v) for k, v in self.save_dict.items()}
        if not self.metadata:
            return payload
        payload[METADATA_KEY] = self.metadata
        return {**payload, DIGEST_KEY: checkpoint_digest(payload)}  # binds the metadata to these weights

    def save(self, filename: str, info: dict) -> Path:
        """Write the checkpoint ``filename`` and its JSON sidecar now (on ``save_rank`` only)."""
        path = self.save_dir / filename
        if dist_rank() == self.save_rank:
            atomic_torch_save(self._payload(), path)
            atomic_write_text(path.with_name(path.name + ".json"), json.dumps(info, indent=2) + "\n")
            logger.info("saved checkpoint %s (%s)", path, info)
        return path

    def _epoch(self, engine: Engine) -> int:
        return int((self.trainer or engine).state.epoch)

    def _on_epoch(self, engine: Engine) -> None:
        best = self.best_checkpoint
        value = float(engine.state.metrics[best.metric])
        if math.isnan(value):
            return
        if self.best is None or (value > self.best if best.mode == "max" else value < self.best):
            self.best, self.best_epoch = value, self._epoch(engine)
            self.save(best.filename, {"epoch": self.best_epoch, best.metric: value, "kind": "best"})

    def _on_complete(self, engine: Engine) -> None:
        info = {"epoch": self._epoch(engine), "kind": "final"}
        metric = self.best_checkpoint.metric
        if metric and metric in engine.state.metrics:
            info[metric] = float(engine.state.metrics[metric])
        self.save(self.final_filename, info)
