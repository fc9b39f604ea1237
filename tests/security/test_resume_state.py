"""A damaged training state on ``--resume true`` (empty, truncated, not a torch file, or holding pickled objects)
ends the run before training with one line naming the file and exit status 3, instead of torch's 126-line
traceback."""

from __future__ import annotations

import logging
import pickle

import pytest
import torch

from monai_tumorcls.handlers import TrainingStateHandler


def _damaged(path, kind: str) -> None:
    torch.save({"trainer": {"epoch": 2}, "network": {"w": torch.zeros(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "text": b"not a torch file\n",
                      "pickle": pickle.dumps({"trainer": object()})}[kind])


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "pickle"])
def test_a_damaged_training_state_is_named_in_one_line(tmp_path, kind, caplog):
    path = tmp_path / "training_state.pt"
    _damaged(path, kind)
    net = torch.nn.Linear(2, 2)
    handler = TrainingStateHandler(tmp_path, {"network": net}, resume="true")
    trainer = object()  # never reached: the file is checked when the handler is attached
    with caplog.at_level(logging.ERROR, logger="monai_tumorcls"), pytest.raises(SystemExit) as e:
        handler.attach(trainer)
    assert e.value.code == 3
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith(f"cannot resume: {path}:") and "\n" not in line, line
