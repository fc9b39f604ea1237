"""Resumable training: the whole training state written atomically every epoch, and loaded back on ``--resume true``.

Follows MONAI's ``CheckpointSaver`` / ``CheckpointLoader`` pattern (a ``save_dict`` of objects with
``state_dict``/``load_state_dict``, loaded at ``Events.STARTED`` through ignite's ``Checkpoint.load_objects``), with
the pieces a bit-identical resume needs on top: the trainer's epoch/iteration, the AMP scaler, the early-stopping
counter, the best-checkpoint saver's best score, and every random state (python, numpy, torch, CUDA, and each
random generator reachable from the training data loader: random transforms, sampler and loader generators).
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping

import numpy as np
import torch
from monai.handlers import CheckpointLoader, EarlyStopHandler
from monai.utils import IgniteInfo, min_version, optional_import

from monai_tumorcls.checkpoint import read_checkpoint
from monai_tumorcls.utils.atomic import atomic_torch_save
from monai_tumorcls.utils.exits import could_not_start
from monai_tumorcls.utils.flags import as_flag

from .checkpoint import AtomicCheckpointSaver, state_dict_of
from .distributed import dist_rank

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["RandomStates", "TrainingStateHandler", "read_epoch_log"]

logger = logging.getLogger(__name__)

_LEAVES = (torch.Tensor, np.ndarray, str, bytes, int, float, bool, type(None), torch.nn.Module)


def _generators(obj, seen: set[int], depth: int = 0) -> Iterator:
    """Random generators reachable from ``obj`` (attributes, lists, dicts), in a deterministic order."""
    if isinstance(obj, _LEAVES) or id(obj) in seen or depth > 12:
        return
    seen.add(id(obj))
    if isinstance(obj, (np.random.RandomState, torch.Generator, random.Random)):
        yield obj
        return
    if isinstance(obj, Mapping):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        children = list(obj)
    else:
        children = list(getattr(obj, "__dict__", {}).values())
    for child in children:
        yield from _generators(child, seen, depth + 1)


def _get(gen):
    if isinstance(gen, np.random.RandomState):
        name, key, pos, has_gauss, gauss = gen.get_state()
        return [name, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, gauss]  # tensors load weights_only
    return gen.get_state() if isinstance(gen, torch.Generator) else gen.getstate()


def _set(gen, state) -> None:
    if isinstance(gen, np.random.RandomState):
        name, key, pos, has_gauss, gauss = state
        gen.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    elif isinstance(gen, torch.Generator):
        gen.set_state(state)
    else:
        gen.setstate(state)


class RandomStates:
    """The global random states (python, numpy, torch, CUDA) and those of the generators reachable from ``loaders``
    (a data loader or a list of them: random transforms, samplers, loader generators)."""

    def __init__(self, loaders=None) -> None:
        self.loaders = loaders

    def _local(self) -> list:
        return list(_generators(self.loaders, set()))

    def state_dict(self) -> dict:
        return {
            "python": random.getstate(),
            "numpy": _get(np.random.mtrand._rand),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "loader": [_get(g) for g in self._local()],
        }

    def load_state_dict(self, state: Mapping) -> None:
        random.setstate(state["python"])
        _set(np.random.mtrand._rand, state["numpy"])
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        local = self._local()
        if len(local) != len(state["loader"]):
            raise ValueError(f"training state holds {len(state['loader'])} data-loader random generators, "
                             f"this configuration has {len(local)}: resume with the configuration that wrote it")
        for gen, gen_state in zip(local, state["loader"]):
            _set(gen, gen_state)


class _EarlyStopState:
    """``state_dict`` of a MONAI ``EarlyStopHandler`` (its ignite ``EarlyStopping``: counter and best score)."""

    def __init__(self, handler: EarlyStopHandler) -> None:
        self.handler = handler

    def state_dict(self) -> dict:
        return dict(self.handler._handler.state_dict())

    def load_state_dict(self, state: Mapping) -> None:
        self.handler._handler.load_state_dict(state)

    def stopped(self) -> bool:
        return self.handler._handler.counter >= self.handler._handler.patience


class _BestMetric:
    """``state_dict`` of the key-metric record a MONAI workflow keeps (``state.best_metric`` and its epoch)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def state_dict(self) -> dict:
        return {k: getattr(self.engine.state, k, -1) for k in ("best_metric", "best_metric_epoch")}

    def load_state_dict(self, state: Mapping) -> None:
        for k, v in state.items():
            setattr(self.engine.state, k, v)


class _EpochLog:
    """Wall seconds (training and validation), 1-minute load average and validation metrics of each completed
    epoch, kept across resumes. The part of an epoch a kill interrupted is not in it; that epoch is trained, and
    timed, again after the resume."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self._started = time.perf_counter()

    def epoch_started(self, engine: Engine) -> None:
        self._started = time.perf_counter()

    def epoch_completed(self, engine: Engine, metrics: Mapping[str, float] | None = None) -> None:
        self.epochs.append({"epoch": engine.state.epoch, "seconds": round(time.perf_counter() - self._started, 1),
                            "load_1min": round(os.getloadavg()[0], 2), **(metrics or {})})

    def state_dict(self) -> dict:
        return {"epochs": list(self.epochs)}

    def load_state_dict(self, state: Mapping) -> None:
        self.epochs = list(state["epochs"])


def read_epoch_log(path: str | Path) -> list[dict]:
    """The per-epoch ``{"epoch", "seconds", "load_1min"}`` records of a training-state file, with the validation
    metrics (key metric first, e.g. ``"val_acc"``, ``"val_auc"``) of the epochs that ran validation ([] when the file
    predates them)."""
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return list(state.get("epoch_log", {}).get("epochs", []))


class TrainingStateHandler:
    """Saves the training state at the end of every trainer epoch; with ``resume`` loads it when the trainer starts.

    Attach it to the trainer after the validation handler, so that the state of an epoch includes its validation
    (best score, early-stopping counter). A new run (``resume=False``) into a folder holding this state file or a
    checkpoint of an ``AtomicCheckpointSaver`` in ``save_dict`` refuses to start rather than overwrite it; with
    ``resume=True`` and no state file it starts a new run, so one command both starts and resumes.

    Args:
        save_dir: folder of the state file.
        save_dict: name -> network, optimizer, LR scheduler, ``AtomicCheckpointSaver``, ``EarlyStopHandler`` or
            evaluator (its best key metric).
        resume: continue from ``save_dir/filename`` when it exists.
        filename: state file name (one per trainer: two-stage bundles use one per stage).
        save_rank: rank that writes in distributed runs.
        keep: how many epochs' states stay on disk. 1 (default): the last epoch's, in ``filename``; N > 1: also the
            N - 1 epochs before it, as ``<stem>_epoch<E><suffix>`` (``training_state_epoch7.pt``); 0: none is
            written, so a killed run cannot resume (a state a training run of a sweep no longer needs: each is the
            size of the network and optimizer, 134 MB for a ResNet-50 trained with Adam).
    """

    def __init__(self, save_dir: str | Path, save_dict: Mapping[str, object], resume: bool = False,
                 filename: str = "training_state.pt", save_rank: int = 0, keep: int = 1) -> None:
        self.path = Path(save_dir) / filename
        self.save_dict = dict(save_dict)
        self.resume, self.save_rank = as_flag(resume, "resume"), save_rank
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ValueError(f"keep must be a whole number of epochs, 0 or more, got {keep!r}")
        self.keep = keep
        self.epoch_log = _EpochLog()
        self._saved_epoch: int | None = None  # the epoch of the state in ``self.path`` (written or resumed from)

    def attach(self, engine: Engine) -> None:
        if self.resume and self.path.is_file():  # a damaged state file: one line naming it, before training starts
            try:
                read_checkpoint(self.path)
            except ValueError as e:
                could_not_start(f"cannot resume: {e}")
        engine.add_event_handler(Events.STARTED, self.start)
        engine.add_event_handler(Events.EPOCH_STARTED, self.epoch_log.epoch_started)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)

    def _objects(self, engine: Engine) -> dict:
        engines = [engine] + [e for e in self.save_dict.values() if isinstance(e, Engine)]
        objs = {"trainer": engine, "trainer_best_metric": _BestMetric(engine),
                "random": RandomStates([getattr(e, "data_loader", None) for e in engines]), "epoch_log": self.epoch_log}
        for name, obj in self.save_dict.items():  # an evaluator contributes its best metric, not its epoch counters
            wrap = {EarlyStopHandler: _EarlyStopState, Engine: _BestMetric}
            objs[name] = next((w(obj) for cls, w in wrap.items() if isinstance(obj, cls)), obj)
        if getattr(engine, "scaler", None) is not None:
            objs["scaler"] = engine.scaler
        return objs

    def _protected(self) -> list[Path]:
        files = [self.path, *self.kept_epochs().values()]
        files += [s.save_dir / name for s in self.save_dict.values() if isinstance(s, AtomicCheckpointSaver)
                  for name in (s.best_checkpoint.filename, s.final_filename) if name]
        return [f for f in files if f.is_file()]

    def _epoch_path(self, epoch: int) -> Path:
        return self.path.with_name(f"{self.path.stem}_epoch{epoch}{self.path.suffix}")

    def kept_epochs(self) -> dict[int, Path]:
        """``{epoch: file}`` of the earlier epochs' states kept beside the last one (``keep`` > 1), oldest first."""
        pattern = re.compile(re.escape(self.path.stem) + r"_epoch(\d+)" + re.escape(self.path.suffix))
        found = {}
        for f in self.path.parent.glob(f"{self.path.stem}_epoch*{self.path.suffix}"):
            match = pattern.fullmatch(f.name)
            if match:
                found[int(match.group(1))] = f
        return dict(sorted(found.items()))

    def _keep_previous(self) -> None:
        """Before the state file is replaced, keep the epoch it holds under its epoch's name; a hard link costs no
        copy, and the atomic replace gives the state file a new inode, leaving the link with the old state."""
        if self.keep < 2 or self._saved_epoch is None or not self.path.is_file():
            return
        kept = self._epoch_path(self._saved_epoch)
        kept.unlink(missing_ok=True)
        try:
            os.link(self.path, kept)
        except OSError:  # a file system without hard links
            shutil.copy2(self.path, kept)

    def _drop_older(self) -> None:
        kept = list(self.kept_epochs().values())
        for f in kept[: max(0, len(kept) - (self.keep - 1))]:
            f.unlink(missing_ok=True)

    def start(self, engine: Engine) -> None:
        if self.resume and self.path.is_file():
            objs = self._objects(engine)
            if "epoch_log" not in torch.load(self.path, map_location="cpu", weights_only=True, mmap=True):
                del objs["epoch_log"]  # written before epochs were logged: the log starts with this sitting
            CheckpointLoader(str(self.path), objs, map_location="cpu")(engine)
            self._saved_epoch = engine.state.epoch
            logger.info("resumed from %s at epoch %d of %d", self.path, engine.state.epoch, engine.state.max_epochs)
            if any(isinstance(o, _EarlyStopState) and o.stopped() for o in objs.values()):
                logger.info("the resumed run had stopped early: nothing left to train")
                engine.terminate()
            return
        existing = self._protected()
        if existing:
            raise RuntimeError(
                f"{self.path.parent} holds {', '.join(p.name for p in existing)} from an earlier run; refusing to "
                "overwrite it. Pass --resume true to continue that run, or move those files away (or pass another "
                "--bundle_root) to start a new one.")
        if self.resume:
            logger.info("no training state at %s: starting a new run", self.path)

    def _validation_metrics(self, engine: Engine) -> dict[str, float]:
        """The key metric, then the other finite scalar metrics, of each evaluator in ``save_dict`` that validated
        this trainer epoch (not a stale one)."""
        validated = [e.state for e in self.save_dict.values() if isinstance(e, Engine)
                     and e.state.epoch == engine.state.epoch and getattr(e.state, "key_metric_name", None) in e.state.metrics]
        return {name: round(float(value), 4) for state in validated
                for name, value in sorted(state.metrics.items(), key=lambda item: item[0] != state.key_metric_name)
                if isinstance(value, (int, float)) and math.isfinite(value)}

    def save(self, engine: Engine) -> None:
        self.epoch_log.epoch_completed(engine, self._validation_metrics(engine))
        if dist_rank() != self.save_rank or self.keep == 0:
            return
        state = {k: state_dict_of(v) if isinstance(v, torch.nn.Module) else v.state_dict()
                 for k, v in self._objects(engine).items()}
        self._keep_previous()
        atomic_torch_save(state, self.path)
        self._saved_epoch = engine.state.epoch
        if self.keep > 1:
            self._drop_older()
        logger.info("saved training state %s (epoch %d)", self.path, engine.state.epoch)
