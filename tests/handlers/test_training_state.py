"""TrainingStateHandler: every random state, the best score and the early-stopping counter survive a resume; a new
run never overwrites an earlier run's checkpoints. Tiny synthetic MONAI trainer on CPU."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from ignite.engine import Events
from ignite.metrics import Accuracy
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import ROCAUC, EarlyStopHandler, ValidationHandler, stopping_fn_from_metric
from monai.transforms import Compose, RandGaussianNoised, RandFlipd
from monai.utils import set_determinism

from monai_tumorcls.handlers import (AtomicCheckpointSaver, BestCheckpoint, RandomStates, TrainingStateHandler,
                                     read_epoch_log, stack_pred_label, stack_pred_onehot)
from monai_tumorcls.utils import atomic_torch_save

from ..bundles.helpers import PROJECT_ROOT


def _loader(seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    items = [{"image": torch.randn(1, 4, 4, generator=g), "label": i % 2} for i in range(12)]
    aug = Compose([RandFlipd("image", prob=0.5, spatial_axis=0), RandGaussianNoised("image", prob=0.5)])
    return DataLoader(Dataset(items, aug), batch_size=4, shuffle=True)


def _draws(loader) -> list:
    batch = next(iter(loader))["image"]
    return [random.random(), float(np.random.rand()), float(torch.rand(1)), batch]


def test_random_states_round_trip_through_a_weights_only_file(tmp_path):
    set_determinism(seed=3)
    loader = _loader()
    states = RandomStates(loader)
    atomic_torch_save(states.state_dict(), tmp_path / "rng.pt")
    first = _draws(loader)
    _draws(loader)  # move every generator on
    states.load_state_dict(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = _draws(loader)
    assert first[:3] == again[:3] and torch.equal(first[3], again[3])


def _workflow(save_dir, epochs: int, resume: bool, patience: int = 10, scores=None, val_interval: int = 1, keep: int = 1):
    """A trainer with validation, best-checkpoint saver, early stopping and the training-state handler;
    ``trainer.validated`` collects (trainer epoch, val_acc, val_auc) of each validation of this sitting."""
    set_determinism(seed=0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    saver = AtomicCheckpointSaver(save_dir, {"model": net}, BestCheckpoint("val_acc"))
    early_stop = EarlyStopHandler(patience, stopping_fn_from_metric("val_acc") if scores is None else scores)
    evaluator = SupervisedEvaluator("cpu", _loader(1), net, key_val_metric={"val_acc": Accuracy(stack_pred_label)},
                                    additional_metrics={"val_auc": ROCAUC(output_transform=stack_pred_onehot)},
                                    val_handlers=[saver, early_stop], decollate=False)
    trainer = SupervisedTrainer("cpu", epochs, _loader(), net, opt, torch.nn.CrossEntropyLoss(),
                                train_handlers=[ValidationHandler(val_interval, evaluator)], decollate=False)
    early_stop.set_trainer(trainer)
    trainer.validated = []
    evaluator.add_event_handler(
        Events.EPOCH_COMPLETED,
        lambda e: trainer.validated.append((trainer.state.epoch, e.state.metrics["val_acc"], e.state.metrics["val_auc"])))
    state = TrainingStateHandler(save_dir, {"network": net, "optimizer": opt, "early_stop": early_stop,
                                            "checkpoint_saver": saver, "evaluator": evaluator}, resume=resume,
                                 keep=keep)
    state.attach(trainer)
    return trainer, net, saver


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight_trainer, straight, saver_a = _workflow(tmp_path / "a", epochs=4, resume=False)
    straight_trainer.run()
    _workflow(tmp_path / "b", epochs=2, resume=False)[0].run()
    trainer, resumed, saver_b = _workflow(tmp_path / "b", epochs=4, resume=True)
    trainer.run()
    assert trainer.state.epoch == 4
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))
    assert (saver_a.best, saver_a.best_epoch) == (saver_b.best, saver_b.best_epoch)  # restored, not reset
    assert not list((tmp_path / "b").glob(".*.tmp"))
    log = read_epoch_log(tmp_path / "b" / "training_state.pt")  # both sittings' epochs, each once
    assert [e["epoch"] for e in log] == [1, 2, 3, 4]
    assert all(e["seconds"] >= 0 and isinstance(e["load_1min"], float) for e in log)
    # each epoch's validation scores as the uninterrupted run saw them, the first sitting's included, key metric first
    assert [(e["epoch"], e["val_acc"], e["val_auc"]) for e in log] == [
        (k, round(acc, 4), round(auc, 4)) for k, acc, auc in straight_trainer.validated]
    assert all(list(e)[3:] == ["val_acc", "val_auc"] for e in log)
    assert len(straight_trainer.validated) == 4 and len({acc for _, acc, _ in straight_trainer.validated}) > 1


def test_epoch_log_holds_the_score_only_of_epochs_that_validated(tmp_path):
    trainer, _, _ = _workflow(tmp_path, epochs=4, resume=False, val_interval=2)
    trainer.run()
    log = read_epoch_log(tmp_path / "training_state.pt")
    assert [e["epoch"] for e in log] == [1, 2, 3, 4]
    assert [e.get("val_acc") for e in log] == [None, round(trainer.validated[0][1], 4), None,
                                               round(trainer.validated[1][1], 4)]  # epochs 1 and 3: not a stale one
    assert [k for k, *_ in trainer.validated] == [2, 4]


def test_state_written_before_the_epoch_log_still_resumes(tmp_path):
    _workflow(tmp_path, epochs=2, resume=False)[0].run()
    path = tmp_path / "training_state.pt"
    old = torch.load(path, weights_only=True)
    del old["epoch_log"]
    atomic_torch_save(old, path)
    assert read_epoch_log(path) == []
    trainer, _, _ = _workflow(tmp_path, epochs=3, resume=True)
    trainer.run()
    assert trainer.state.epoch == 3 and [e["epoch"] for e in read_epoch_log(path)] == [3]


def test_new_run_refuses_to_overwrite_earlier_checkpoints(tmp_path):
    _workflow(tmp_path, epochs=1, resume=False)[0].run()
    before = (tmp_path / "model.pt").read_bytes()
    with pytest.raises(RuntimeError, match="refusing to overwrite.*--resume true"):
        _workflow(tmp_path, epochs=2, resume=False)[0].run()
    (tmp_path / "training_state.pt").unlink()  # a model.pt alone (e.g. from an older version) is protected too
    with pytest.raises(RuntimeError, match="model.pt from an earlier run"):
        _workflow(tmp_path, epochs=2, resume=True)[0].run()
    assert (tmp_path / "model.pt").read_bytes() == before


def test_resume_without_state_starts_and_early_stopped_run_stays_stopped(tmp_path):
    never_better = lambda engine: 0.0  # noqa: E731  the early-stopping counter rises every epoch
    trainer, _, _ = _workflow(tmp_path, epochs=6, resume=True, patience=2, scores=never_better)
    trainer.run()
    assert trainer.state.epoch == 3  # epoch 1 sets the best score, 2 and 3 do not improve on it
    trainer, net, _ = _workflow(tmp_path, epochs=6, resume=True, patience=2, scores=never_better)
    trainer.run()
    assert trainer.state.epoch == 3 and trainer.state.iteration == 9  # nothing trained after the resume


@pytest.mark.parametrize("value, expected", [("true", True), ("false", False), ("False", False), (True, True), (0, False)])
def test_resume_flag_as_the_command_line_gives_it(tmp_path, value, expected):
    assert TrainingStateHandler(tmp_path, {}, resume=value).resume is expected
    with pytest.raises(ValueError, match="resume must be true or false"):
        TrainingStateHandler(tmp_path, {}, resume="maybe")


def _states(folder) -> dict[str, int]:
    """``{training-state file: the last epoch it holds}`` in ``folder``."""
    return {f.name: read_epoch_log(f)[-1]["epoch"] for f in sorted(folder.glob("training_state*.pt"))}


def test_keep_the_last_n_epochs_states_across_a_resume(tmp_path):
    _workflow(tmp_path, epochs=2, resume=False, keep=3)[0].run()
    assert _states(tmp_path) == {"training_state.pt": 2, "training_state_epoch1.pt": 1}
    trainer, _, _ = _workflow(tmp_path, epochs=5, resume=True, keep=3)
    trainer.run()
    assert trainer.state.epoch == 5
    assert _states(tmp_path) == {"training_state.pt": 5, "training_state_epoch3.pt": 3, "training_state_epoch4.pt": 4}
    # a kept epoch is a whole state: put back as the state file, it resumes from there
    (tmp_path / "training_state_epoch3.pt").replace(tmp_path / "training_state.pt")
    trainer, _, _ = _workflow(tmp_path, epochs=4, resume=True, keep=1)
    trainer.run()
    assert trainer.state.epoch == 4 and trainer.state.iteration == 12  # epoch 4 only: 3 iterations of 4 items
    for name in ("training_state.pt", "model.pt"):
        (tmp_path / name).unlink()
    with pytest.raises(RuntimeError, match="training_state_epoch4.pt"):  # kept states are not overwritten either
        _workflow(tmp_path, epochs=2, resume=False)[0].run()


def test_keep_zero_writes_no_training_state(tmp_path):
    trainer, _, _ = _workflow(tmp_path, epochs=2, resume=True, keep=0)
    trainer.run()
    assert trainer.state.epoch == 2 and (tmp_path / "model.pt").is_file()
    assert list(tmp_path.glob("training_state*")) == [] and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("keep", [-1, 1.5, "2", True])
def test_keep_is_a_whole_number_of_epochs(tmp_path, keep):
    with pytest.raises(ValueError, match="keep must be a whole number of epochs"):
        TrainingStateHandler(tmp_path, {}, keep=keep)


def _state_handlers(config):
    if isinstance(config, dict):
        if config.get("_target_") == "monai_tumorcls.handlers.TrainingStateHandler":
            yield config
        for value in config.values():
            yield from _state_handlers(value)


@pytest.mark.parametrize("train_json", sorted(PROJECT_ROOT.glob("bundles/*/configs/train.json")), ids=lambda p: p.parts[-3])
def test_every_bundle_exposes_how_many_training_states_to_keep(train_json):
    config = json.loads(train_json.read_text())
    assert config["keep_training_states"] == 1  # the default: the last epoch's state, which --resume reads
    handlers = list(_state_handlers(config))
    assert handlers and all(h["keep"] == "@keep_training_states" for h in handlers)
