from __future__ import annotations

import json

import pytest
import torch
from ignite.engine import Engine

from monai_tumorcls.checkpoint import load_checkpoint
from monai_tumorcls.handlers import AtomicCheckpointSaver, BestCheckpoint


def test_best_and_final_checkpoints(tmp_path):
    net = torch.nn.Linear(3, 2)
    scores = iter([0.5, 0.7, 0.6])

    def step(engine, batch):
        with torch.no_grad():
            net.weight.add_(1.0)

    engine = Engine(step)

    @engine.on(__import__("ignite").engine.Events.EPOCH_COMPLETED)
    def _metric(e):
        e.state.metrics["val_acc"] = next(scores)

    saver = AtomicCheckpointSaver(tmp_path, {"model": net}, BestCheckpoint("val_acc"), final_filename="final.pt")
    saver.attach(engine)
    engine.run([0], max_epochs=3)
    best = load_checkpoint(tmp_path / "model.pt")
    assert best["weight"].sub(net.weight).mean().item() == pytest.approx(-1.0)  # saved after epoch 2 of 3
    info = json.loads((tmp_path / "model.pt.json").read_text())
    assert info["epoch"] == 2 and info["val_acc"] == 0.7
    other = torch.nn.Linear(3, 2)
    load_checkpoint(tmp_path / "final.pt", other)
    assert torch.equal(other.weight, net.weight)
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_checkpoint_refuses_pickles_and_missing(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="refused, the checkpoint holds pickled objects") as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)  # one line, no advice to unpickle
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    net = torch.nn.Linear(2, 2)
    torch.save({"model": net.state_dict(), "optimizer": {}}, tmp_path / "multi.pt")
    assert set(load_checkpoint(tmp_path / "multi.pt")) == {"weight", "bias"}

