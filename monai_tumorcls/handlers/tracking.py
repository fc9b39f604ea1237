"""What an MLflow run of a bundle's training records beyond the defaults of MONAI's ``--tracking mlflow``.

MONAI's tracking settings add an ``MLFlowHandler`` to the trainer's handlers, which logs the losses, the metrics, the
executed config (an artifact) and, as params, only ``max_epochs`` and ``epoch_length``. :class:`MLflowRunRecord`
gives that handler the bundle options as ``experiment_param`` and, once training and the calibration after it have
written the final checkpoint, logs the checkpoint to the same run. The experiment name is the config's
``experiment_name``, which the bundles set to their name. Without ``--tracking mlflow`` there is no such handler and
the record does nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monai.handlers import MLFlowHandler
from monai.utils import IgniteInfo, min_version, optional_import

from .distributed import dist_rank

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
mlflow, _ = optional_import("mlflow")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["MLflowRunRecord", "bundle_options"]

logger = logging.getLogger(__name__)

_CONFIG_SYNTAX = ("$", "@", "%")  # expressions, references and macros are not option values


def _plain(value: Any) -> bool:
    if isinstance(value, str):
        return not value.startswith(_CONFIG_SYNTAX)
    if isinstance(value, list):
        return all(isinstance(v, (str, int, float, bool)) and _plain(v) for v in value)
    return value is None or isinstance(value, (int, float, bool))


def bundle_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The bundle options of a config as a run gave them: its top-level keys holding a number, a yes/no, a text
    that is no expression or reference, ``null`` or a list of such values (``epochs``, ``learning_rate``,
    ``backbone``, ...); command-line overrides are already in a config MONAI exported for the run."""
    return {key: value for key, value in config.items() if _plain(value)}


class MLflowRunRecord:
    """
    The bundle options and the final checkpoint in the MLflow run of MONAI's ``--tracking mlflow``.

    Args:
        handlers: the trainer's handlers (``@train#handlers``); the ``MLFlowHandler`` among them is MONAI's.
        executed_config: the config file MONAI's tracking wrote for this run (``@save_execute_config``, which is
            ``true`` until ``--tracking`` names the file): its :func:`bundle_options` become the run's params.
        artifacts: files logged to the run by :meth:`log_artifacts` (those that exist then), under ``checkpoint/``.

    Example (the order of the bundles' ``run`` list)::

        record.attach(trainer)  # before trainer.run(): MLflow logs the params when the trainer starts
        trainer.run()
        calibrate_checkpoint(...)  # rewrites model.pt
        record.log_artifacts()
    """

    def __init__(self, handlers: Sequence, executed_config: str | bool | None = None,
                 artifacts: Sequence[str | Path] = ()) -> None:
        self.trackers = [h for h in handlers if isinstance(h, MLFlowHandler)]
        self.executed_config = executed_config if isinstance(executed_config, str) else None
        self.artifacts = [Path(a) for a in artifacts]
        self.run_id: str | None = None
        self._tracking_uri: str | None = None

    def params(self) -> dict[str, Any]:
        """The bundle options of the executed config ({} when there is none)."""
        if self.executed_config is None or not Path(self.executed_config).is_file():
            return {}
        return bundle_options(json.loads(Path(self.executed_config).read_text()))

    def attach(self, engine: Engine) -> None:
        """Give the trainer's ``MLFlowHandler`` the bundle options as params and note its run when it starts (call
        after the trainer was built, so that this runs after the handler's own start)."""
        if not self.trackers:
            return
        params = self.params()
        for tracker in self.trackers:
            tracker.experiment_param = {**params, **(tracker.experiment_param or {})}
        engine.add_event_handler(Events.STARTED, self._remember_run)

    def _remember_run(self, engine: Engine) -> None:
        # the trainer's handler closes its run when training completes: keep what the artifacts need
        tracker = next((t for t in self.trackers if t.cur_run is not None), None)
        if tracker is not None:
            self.run_id, self._tracking_uri = tracker.cur_run.info.run_id, tracker.client.tracking_uri

    def log_artifacts(self) -> list[str]:
        """Log the ``artifacts`` that exist to the run (finished by now: MLflow still takes its artifacts); the
        files logged. Nothing without a tracked run, or on ranks other than 0."""
        if self.run_id is None or dist_rank() != 0:
            return []
        client = mlflow.MlflowClient(tracking_uri=self._tracking_uri)
        logged = [str(a) for a in self.artifacts if a.is_file()]
        for path in logged:
            client.log_artifact(self.run_id, path, artifact_path="checkpoint")
        logger.info("MLflow run %s: logged %s", self.run_id, ", ".join(logged) or "no artifact (none written)")
        return logged
