from __future__ import annotations

import io
import json
import sys

import pytest

from monai_tumorcls.utils import progress_bar

from ..bundles.helpers import PROJECT_ROOT


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty, enabled, shown", [(True, True, True), (False, True, False), (True, False, False)])
def test_progress_bar_only_on_a_terminal(tty, enabled, shown, monkeypatch):
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    assert list(progress_bar(range(5), "caching features", enabled)) == list(range(5))
    assert ("caching features: " in stream.getvalue() and "/5 [" in stream.getvalue()) == shown


def _trainers(config, path=""):
    if isinstance(config, dict):
        if config.get("_target_") == "SupervisedTrainer":
            yield path, config
        for key, value in config.items():
            yield from _trainers(value, f"{path}#{key}" if path else key)


@pytest.mark.parametrize("train_json", sorted(PROJECT_ROOT.glob("bundles/*/configs/train.json")), ids=lambda p: p.parts[-3])
def test_every_bundle_trainer_has_a_terminal_only_progress_bar(train_json):
    config = json.loads(train_json.read_text())
    trainers = list(_trainers(config))
    assert trainers
    for path, trainer in trainers:
        handlers = trainer["train_handlers"]
        if isinstance(handlers, str):  # a reference, "@train#handlers"
            handlers = config
            for key in trainer["train_handlers"][1:].split("#"):
                handlers = handlers[key]
        bars = [h for h in handlers if isinstance(h, dict) and h.get("_target_") == "ignite.handlers.ProgressBar"]
        assert bars == [{"_target_": "ignite.handlers.ProgressBar", "disable": None}], path  # None: tqdm's "tty only"
