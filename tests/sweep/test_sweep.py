"""Optuna sweeps of a bundle: search-space parsing and pruning (units), and a tiny grid on real images run by two
worker processes sharing one SQLite study (integration)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from ignite.engine import Engine, Events
from sqlalchemy.exc import IntegrityError

from monai_tumorcls.sweep import PruningHandler, load_sweep_config, open_study, suggest_overrides
from monai_tumorcls.sweep import study as study_module
from monai_tumorcls.sweep.__main__ import main as sweep_main
from monai_tumorcls.sweep.study import parse_override

from ..bundles.helpers import PROJECT_ROOT

BUNDLE = PROJECT_ROOT / "bundles" / "resnet50_spp_binary"


def test_bundle_sweep_definition_and_suggestions():
    config = load_sweep_config(BUNDLE)
    assert set(config["grid"]) == {"learning_rate", "epochs", "batch_size"}
    assert 0.0001 in config["grid"]["learning_rate"] and 25 in config["grid"]["epochs"]  # the published choice
    params = suggest_overrides(optuna.trial.FixedTrial({"learning_rate": 3e-4, "epochs": 25, "batch_size": 32}),
                               config["tpe"])
    assert params == {"learning_rate": 3e-4, "epochs": 25, "batch_size": 32}
    assert parse_override("max_per_class=4") == ("max_per_class", 4)
    assert parse_override("dataset=brats2015") == ("dataset", "brats2015")


def test_pruning_handler_reports_each_validation_and_stops_the_trainer():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    scores = iter([0.9, 0.8, 0.3, 0.9, 0.9])  # the threshold pruner stops trials below 0.5
    trainer, evaluator = Engine(lambda e, b: None), Engine(lambda e, b: None)
    evaluator.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(val_acc=next(scores)))
    handler = PruningHandler(trial, trainer, "val_acc")
    handler.attach(evaluator)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: evaluator.run([0]))
    trainer.run([0], max_epochs=5)
    assert handler.pruned and trainer.state.epoch == 3 and handler.history == [0.9, 0.8, 0.3]
    assert study.trials[0].intermediate_values == {1: 0.9, 2: 0.8, 3: 0.3}


def test_open_study_retries_when_another_worker_created_the_tables_first(tmp_path, monkeypatch):
    """The race seen in CI: two workers create a new SQLite database at once, and the loser's ``RDBStorage``
    fails inserting the schema-version row the winner inserted. The retry must then load the study."""
    real_storage, calls = study_module.RDBStorage, []

    def storage_losing_the_race_once(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            real_storage(url, **kwargs)  # the other worker wins: tables and version row exist now
            raise IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE constraint failed"))
        return real_storage(url, **kwargs)

    monkeypatch.setattr(study_module, "RDBStorage", storage_losing_the_race_once)
    monkeypatch.setattr(study_module.time, "sleep", lambda seconds: None)
    study = open_study(f"sqlite:///{tmp_path / 'race.db'}", "race")
    assert len(calls) == 2 and study.study_name == "race" and study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_the_trial_of_a_dead_worker_is_failed_and_queued_again_with_its_parameters(tmp_path):
    """A killed worker stops beating: once its grace period is over, the next worker fails that trial and queues a
    retry with the same parameters (which then resumes from the trial's training state)."""
    study = open_study(f"sqlite:///{tmp_path / 'stale.db'}", "stale", heartbeat_interval=1, grace_period=1)
    trial = study.ask({"learning_rate": optuna.distributions.CategoricalDistribution([0.01, 0.001])})
    study._storage.record_heartbeat(trial._trial_id)  # the worker's last beat before it was killed
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    retry = study.get_trials(deepcopy=False)[1]
    assert retry.params == trial.params and retry.system_attrs["failed_trial"] == trial.number


@pytest.mark.integration
def test_two_workers_share_one_sqlite_study_and_complete_the_grid_once(tmp_path, kaggle_root, monkeypatch, capsys):
    """Tiny budget: resnet18 trunk with the SPP head, 4 Kaggle images per class at 32 px, 1 epoch per trial."""
    sweep = tmp_path / "tiny_sweep.json"
    grid = {"learning_rate": [0.01, 0.001], "batch_size": [4, 8], "epochs": [1]}
    sweep.write_text(json.dumps({"metric": "val_acc", "grid": grid}))
    storage = f"sqlite:///{tmp_path / 'sweep.db'}"
    cmd = [sys.executable, "-m", "monai_tumorcls.sweep", "--bundle", str(BUNDLE), "--sampler", "grid", "--storage",
           storage, "--study", "tiny", "--sweep_config", str(sweep), "--workdir", str(tmp_path / "runs"), "--set",
           "backbone=resnet18", "max_per_class=4", "max_per_class_test=1", "image_size=32", "num_workers=0"]
    workers = [subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(log[-3000:] for log in logs)

    study = optuna.load_study(study_name="tiny", storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted((t.params["learning_rate"], t.params["batch_size"]) for t in done) == [
        (0.001, 4), (0.001, 8), (0.01, 4), (0.01, 8)]  # every grid point exactly once
    for t in done:
        assert 0.0 <= t.value <= 1.0 and t.value == t.user_attrs["metrics"]["best_val_acc"]
        assert t.intermediate_values == {1: t.user_attrs["metrics"]["val_acc_history"][0]}
        assert t.user_attrs["overrides"]["batch_size"] == t.params["batch_size"]
        assert t.user_attrs["command"].startswith("python -m monai.bundle run training --config_file")
        assert Path(t.user_attrs["overrides"]["bundle_root"], "models", "training_state.pt").is_file()
    # the same command again (e.g. after a kill) continues the study: here nothing is left to run (in this process:
    # the two workers above already ran the command line itself)
    monkeypatch.chdir(PROJECT_ROOT)
    sweep_main(cmd[3:])
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["trials"] == len(study.trials)
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == len(study.trials)


def test_run_sweep_takes_the_old_loose_study_keywords_for_one_release(monkeypatch):
    opened = []

    def open_and_stop(storage, name, sampler):
        opened.append((storage, name, type(sampler).__name__))
        raise RuntimeError("stop before the first trial")

    monkeypatch.setattr(study_module, "open_study", open_and_stop)
    with pytest.raises(RuntimeError, match="stop"):
        study_module.run_sweep(BUNDLE, study_module.SweepStudy("tpe", "sqlite:///old.db", "old", seed=3))
    with pytest.warns(FutureWarning, match=r"SweepStudy\(sampler=\.\.\., storage=\.\.\., name=\.\.\., seed=\.\.\.\)"):
        with pytest.raises(RuntimeError, match="stop"):
            study_module.run_sweep(BUNDLE, sampler="tpe", storage="sqlite:///old.db", study_name="old", seed=3)
    assert opened == [("sqlite:///old.db", "old", "TPESampler")] * 2
    with pytest.raises(TypeError, match="SweepStudy"):
        study_module.run_sweep(BUNDLE, "grid")


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def test_the_documented_snippets_run_after_the_documented_install(tmp_path, monkeypatch, capsys):
    """docs/sweeps.md installs the sweep extra (optuna) and reads a study with plain Python: no pandas, which
    nothing installs (``trials_dataframe`` needs it)."""
    doc = (PROJECT_ROOT / "docs" / "sweeps.md").read_text()
    assert "pip install -e '.[sweep]'" in doc
    (snippet,) = _python_blocks(doc)
    imported = {n.split(".")[0] for node in ast.walk(ast.parse(snippet)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for n in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module])}
    assert imported <= {"optuna"} | set(sys.stdlib_module_names)
    monkeypatch.chdir(tmp_path)  # the snippet's storage, sqlite:///sweep.db, is relative
    study = optuna.create_study(study_name="spp-grid", storage="sqlite:///sweep.db", direction="maximize")
    trial = study.ask({"learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)})
    trial.set_user_attr("metrics", {"best_epoch": 3, "pruned": False})
    study.tell(trial, 0.875)
    exec(compile(snippet, "docs/sweeps.md", "exec"), {})
    assert capsys.readouterr().out.split("\n")[0] == f"0 COMPLETE 0.875 {trial.params} 3 False"
