"""Optuna studies over a bundle's training options.

Each trial parses the bundle's own ``configs/train.json`` with MONAI's ``ConfigParser`` plus the trial's overrides,
attaches a :class:`PruningHandler` to the bundle's ``validate#evaluator`` and runs the bundle's ``run`` list (trainer,
validation, checkpoints, training state), in a folder of its own keyed by its parameters. The study lives in an
Optuna RDB storage (SQLite by default, any SQLAlchemy URL so that workers on several machines share it); trials
keep a heartbeat, so the trial of a killed worker is failed and retried (from its training state, ``--resume``)
by the next worker that runs.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import optuna
from ignite.engine import Engine, Events
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from sqlalchemy.exc import IntegrityError, OperationalError

from monai_tumorcls.bundle.config import load_bundle_config
from monai_tumorcls.utils.deprecation import moved_keywords
from monai_tumorcls.utils.run_info import shell_join

__all__ = ["PruningHandler", "SweepStudy", "load_sweep_config", "make_sampler", "open_study", "run_sweep",
           "suggest_overrides", "train_trial", "parse_override"]

logger = logging.getLogger(__name__)

_TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def load_sweep_config(bundle_dir: str | Path, path: str | Path | None = None) -> dict:
    """``path`` (default ``<bundle>/configs/sweep.json``): ``grid`` (option -> values), ``tpe`` (option -> values or
    {low, high[, log]}), ``metric`` (validation key metric, maximised)."""
    path = Path(path) if path else Path(bundle_dir) / "configs" / "sweep.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no sweep definition for this bundle")
    return json.loads(path.read_text())


def make_sampler(kind: str, sweep_config: Mapping, seed: int = 0) -> optuna.samplers.BaseSampler:
    if kind == "grid":
        return optuna.samplers.GridSampler(dict(sweep_config["grid"]), seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise ValueError(f"sampler must be 'grid' or 'tpe', got {kind!r}")


def suggest_overrides(trial: optuna.Trial, space: Mapping[str, Any]) -> dict:
    """The trial's value of each option of ``space``: a list is categorical, ``{low, high[, log]}`` a range
    (integer when both ends are integers)."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            params[name] = trial.suggest_int(name, spec["low"], spec["high"], log=spec.get("log", False))
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return params


class PruningHandler:
    """Ignite handler for the validation engine: reports the key metric to the Optuna trial at every validation
    (step = trainer epoch) and stops the trainer when the study's pruner says so."""

    def __init__(self, trial: optuna.Trial | None, trainer: Engine, metric_name: str = "val_acc") -> None:
        self.trial, self.trainer, self.metric_name = trial, trainer, metric_name
        self.history: list[float] = []
        self.pruned = False

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        value = float(engine.state.metrics[self.metric_name])
        self.history.append(value)
        if self.trial is None:
            return
        self.trial.report(value, step=self.trainer.state.epoch)
        if self.trainer.state.epoch < self.trainer.state.max_epochs and self.trial.should_prune():  # else: done anyway
            self.pruned = True
            self.trainer.terminate()


def bundle_command(bundle_dir: str | Path, overrides: Mapping[str, Any]) -> list[str]:
    """The user's command line that trains the bundle with ``overrides`` (what a trial runs, for the record)."""
    cfg = Path(bundle_dir) / "configs"
    cmd = ["python", "-m", "monai.bundle", "run", "training", "--config_file", str(cfg / "train.json"),
           "--logging_file", str(cfg / "logging.conf")]
    for key, value in overrides.items():
        cmd += [f"--{key}", value if isinstance(value, str) else repr(value)]
    return cmd


def train_trial(bundle_dir: str | Path, overrides: Mapping[str, Any], trial: optuna.Trial | None = None,
                metric_name: str = "val_acc") -> dict:
    """Train the bundle with ``overrides`` in this process; return the trial's record (JSON-friendly)."""
    parser = load_bundle_config(bundle_dir, "train.json", overrides)
    parser.get_parsed_content("initialize")
    trainer, evaluator = parser.get_parsed_content("train#trainer"), parser.get_parsed_content("validate#evaluator")
    pruning = PruningHandler(trial, trainer, metric_name)
    pruning.attach(evaluator)
    start = time.perf_counter()
    parser.get_parsed_content("run")
    return {
        f"best_{metric_name}": float(evaluator.state.best_metric),
        "best_epoch": int(evaluator.state.best_metric_epoch),
        "epochs_run": int(trainer.state.epoch),
        f"{metric_name}_history": pruning.history,  # this process's validations (a resumed trial: after the resume)
        "train_seconds": round(time.perf_counter() - start, 1),
        "pruned": pruning.pruned,
    }


def _run_dirname(params: Mapping[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", "_".join(f"{k}={params[k]}" for k in sorted(params)))


def _grid_point_taken(study: optuna.Study, trial: optuna.Trial) -> int | None:
    """Number of another live or finished trial on this trial's grid point (a race between workers), else None."""
    grid_id = study._storage.get_trial_system_attrs(trial._trial_id).get("grid_id")
    if grid_id is None:
        return None
    others = (t for t in study.get_trials(deepcopy=False, states=_TAKEN) if t.number != trial.number)
    return next((t.number for t in others if t.system_attrs.get("grid_id") == grid_id), None)


def _objective(study: optuna.Study, bundle_dir: Path, space: Mapping, fixed: Mapping, workdir: Path, metric: str):
    def objective(trial: optuna.Trial) -> float:
        params = suggest_overrides(trial, space)
        taken_by = _grid_point_taken(study, trial)
        if taken_by is not None:
            trial.set_user_attr("skipped", f"grid point already taken by trial {taken_by}")
            raise optuna.TrialPruned()
        # a folder per parameter set: a retried trial resumes from the training state its killed run left
        overrides = {**fixed, **params, "bundle_root": str(workdir / _run_dirname(params)), "resume": True}
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("command", shell_join(bundle_command(bundle_dir, overrides)))
        record = train_trial(bundle_dir, overrides, trial, metric)
        trial.set_user_attr("metrics", record)
        if record["pruned"]:
            raise optuna.TrialPruned()
        return record[f"best_{metric}"]

    return objective


def open_study(storage: str, study_name: str, sampler: optuna.samplers.BaseSampler | None = None,
               heartbeat_interval: int = 10, grace_period: int = 60) -> optuna.Study:
    """Create or load the study ``study_name`` in the RDB ``storage`` (maximising), with heartbeats: a trial whose
    worker died is failed after ``grace_period`` seconds and queued again (at most twice)."""
    # Workers starting together race to create the tables of a new database: the loser sees a locked database or a
    # duplicate schema-version row, and a later attempt finds the tables made.
    for attempt in range(5):
        try:
            rdb = RDBStorage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                             heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2))
            break
        except (OperationalError, IntegrityError):
            if attempt == 4:
                raise
            time.sleep(1 + attempt)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    return optuna.create_study(storage=rdb, study_name=study_name, sampler=sampler, pruner=pruner,
                               direction="maximize", load_if_exists=True)


def _done(study: optuna.Study, n_trials: int) -> bool:
    trials = study.get_trials(deepcopy=False)
    return sum(t.state in _TAKEN for t in trials) >= n_trials and not any(t.state == TrialState.WAITING for t in trials)


@dataclass
class SweepStudy:
    """Which Optuna study the trials of :func:`run_sweep` join, and how it picks them.

    Attributes:
        sampler: ``grid`` | ``tpe``.
        storage: Optuna RDB URL shared by all workers.
        name: study name (default ``<bundle>-<sampler>``).
        n_trials: finished + running trials to reach (default: the whole grid, or 20 TPE trials).
        seed: sampler seed.
    """

    sampler: str = "grid"
    storage: str = "sqlite:///sweep.db"
    name: str | None = None
    n_trials: int | None = None
    seed: int = 0


def run_sweep(bundle: str | Path, study: SweepStudy | None = None, overrides: Mapping[str, Any] | None = None,
              workdir: str | Path = "runs/sweeps", max_failures: int = 3, sweep_config: str | Path | None = None,
              **moved: Any) -> optuna.Study:
    """Run trials of ``bundle`` until the ``study`` holds its ``n_trials`` finished or running ones. Several
    processes may run this on one storage and study name at once; rerunning it after a kill continues the study.

    Args:
        bundle: bundle folder holding ``configs/train.json`` and ``configs/sweep.json``.
        study: the Optuna study, its sampler and size (:class:`SweepStudy`).
        overrides: fixed bundle overrides of every trial.
        workdir: trial folders go to ``<workdir>/<study name>/<parameters>/``.
        max_failures: failed trials after which this worker stops (re-raising the last failure).
        sweep_config: another sweep definition than the bundle's.
        moved: ``sampler``, ``storage``, ``study_name``, ``n_trials``, ``seed`` as loose keywords (before they were
            grouped in ``study``): still taken, with a ``FutureWarning``, for one release.
    """
    if study is not None and not isinstance(study, SweepStudy):
        raise TypeError(f"run_sweep(bundle, study=SweepStudy(...)): got {study!r} (the sampler is SweepStudy.sampler)")
    plan = moved_keywords("run_sweep", study, SweepStudy, moved, {"study_name": "name"})
    bundle_dir = Path(bundle)
    sweep_config = load_sweep_config(bundle_dir, sweep_config)
    space = sweep_config[plan.sampler]
    n_grid = math.prod(len(values) for values in space.values()) if plan.sampler == "grid" else None
    n_trials = min(plan.n_trials or n_grid or 20, n_grid or sys.maxsize)
    study_name = plan.name or f"{bundle_dir.name}-{plan.sampler}"
    study = open_study(plan.storage, study_name, make_sampler(plan.sampler, sweep_config, plan.seed))
    optuna.storages.fail_stale_trials(study)
    objective = _objective(study, bundle_dir, space, dict(overrides or {}), Path(workdir) / study_name,
                           sweep_config.get("metric", "val_acc"))
    failures = 0
    while not _done(study, n_trials):
        try:
            study.optimize(objective, n_trials=1)
        except Exception:  # the trial is recorded as failed; a few failures stop the worker, not a broken config loop
            failures += 1
            logger.exception("trial failed (%d of %d allowed)", failures, max_failures)
            if failures >= max_failures:
                raise
    return study


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, Python literal or the string)."""
    key, _, value = text.partition("=")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value
