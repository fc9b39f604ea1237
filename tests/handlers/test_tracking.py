"""MLflowRunRecord: with MONAI's MLFlowHandler on a tiny Ignite trainer and a local SQLite store, the run is in the
bundle's experiment, holds the bundle options as params and the checkpoint written after training as an artifact;
without the handler (no ``--tracking mlflow``) nothing happens."""

from __future__ import annotations

import json

import pytest
from ignite.engine import Engine
from monai.handlers import MLFlowHandler, StatsHandler
from monai.utils import path_to_sqlite_uri

from monai_tumorcls.handlers import MLflowRunRecord, bundle_options

from ..bundles.helpers import PROJECT_ROOT

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra (part of the test extra)")

CONFIG = {"bundle_name": "tiny", "epochs": 2, "learning_rate": 0.001, "pretrained": None, "backbone": "resnet18",
          "imagenet_mean": [0.485, 0.456, 0.406], "data_dir": "$str(monai_tumorcls.config.get_kaggle_root())",
          "experiment_name": "@bundle_name", "network_def": {"_target_": "Net"}, "run": ["$@trainer.run()"]}


def test_bundle_options_are_the_plain_top_level_values():
    assert bundle_options(CONFIG) == {"bundle_name": "tiny", "epochs": 2, "learning_rate": 0.001, "pretrained": None,
                                      "backbone": "resnet18", "imagenet_mean": [0.485, 0.456, 0.406]}


def _trainer(handlers) -> Engine:
    trainer = Engine(lambda engine, batch: 0.0)
    for handler in handlers:
        handler.attach(trainer)
    return trainer


def test_the_run_has_the_bundle_experiment_options_and_final_checkpoint(tmp_path):
    executed = tmp_path / "config_executed.json"
    executed.write_text(json.dumps({**CONFIG, "epochs": 3}))  # an override, as MONAI exports the run's config
    uri = path_to_sqlite_uri(str(tmp_path / "mlruns.db"))
    tracker = MLFlowHandler(tracking_uri=uri, experiment_name="tiny", iteration_log=False, close_on_complete=True)
    checkpoint = tmp_path / "model.pt"
    record = MLflowRunRecord([StatsHandler(iteration_log=False), tracker], str(executed), [checkpoint, tmp_path / "no.pt"])
    trainer = _trainer([tracker])
    record.attach(trainer)
    trainer.run([0, 1], max_epochs=3)
    checkpoint.write_bytes(b"weights after calibration")  # written once the trainer (and its MLflow run) finished
    assert record.log_artifacts() == [str(checkpoint)]

    client = mlflow.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.info.status == "FINISHED"
    assert {k: run.data.params[k] for k in ("epochs", "learning_rate", "backbone", "pretrained", "max_epochs")} == {
        "epochs": "3", "learning_rate": "0.001", "backbone": "resnet18", "pretrained": "None", "max_epochs": "3"}
    assert "data_dir" not in run.data.params  # an expression, not an option value
    assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")] == ["checkpoint/model.pt"]


def test_without_tracking_the_record_does_nothing(tmp_path):
    record = MLflowRunRecord([StatsHandler(iteration_log=False)], True, [tmp_path / "model.pt"])
    (tmp_path / "model.pt").write_bytes(b"w")
    trainer = _trainer([])
    record.attach(trainer)
    trainer.run([0], max_epochs=1)
    assert record.trackers == [] and record.params() == {} and record.log_artifacts() == []


def test_a_bundle_tracked_with_mlflow_uses_its_name_and_options(tmp_path):
    """``--tracking mlflow`` on a bundle: MONAI's settings keep the bundle's ``experiment_name`` and export the run's
    config, whose options (overrides and the bundle's own, e.g. pipeline 3's ``momentum``) the record logs."""
    from monai.bundle import ConfigWorkflow

    config = PROJECT_ROOT / "bundles" / "resnet50_spp_binary" / "configs" / "train.json"
    parser = ConfigWorkflow(config_file=str(config), workflow_type="train", logging_file=False, tracking="mlflow",
                            bundle_root=str(tmp_path), epochs=3).parser
    assert parser.get_parsed_content("experiment_name") == "resnet50_spp_binary"  # not MONAI's "monai_experiment"
    assert parser["train#handlers"][-1]["_target_"] == "MLFlowHandler"
    assert parser["mlflow_record"]["handlers"] == "@train::handlers"  # where the record finds that handler
    params = MLflowRunRecord([], parser.get_parsed_content("save_execute_config")).params()
    assert {k: params[k] for k in ("epochs", "head", "momentum", "backbone")} == {
        "epochs": 3, "head": "spp", "momentum": 0.9, "backbone": "resnet50"}
