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


def _cache_datasets(config, path=""):
    if isinstance(config, dict):
        if config.get("_target_") == "CacheDataset":
            yield path, config
        for key, value in config.items():
            yield from _cache_datasets(value, f"{path}#{key}" if path else key)
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from _cache_datasets(value, f"{path}#{i}")


def test_every_bundle_cache_dataset_shows_its_bar_on_a_terminal_only():
    """MONAI's CacheDataset draws its "Loading dataset" bar whenever ``progress`` is true, terminal or not."""
    found = [(f"{p.relative_to(PROJECT_ROOT)}:{path}", ds) for p in sorted(PROJECT_ROOT.glob("bundles/*/configs/*.json"))
             for path, ds in _cache_datasets(json.loads(p.read_text()))]
    assert len(found) >= 20  # train/validation of every supervised bundle, the multi-source parts, SSL, adaptation
    assert [where for where, ds in found if ds.get("progress") != "$monai_tumorcls.utils.stderr_is_terminal()"] == []


@pytest.mark.parametrize("tty", [True, False])
def test_a_bundle_cache_dataset_writes_no_bar_into_a_log(tty, monkeypatch):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(PROJECT_ROOT / "bundles" / "resnet18_binary" / "configs" / "train.json"))
    parser["train#dataset#data"] = [{"image": i} for i in range(3)]
    parser["train#dataset#transform"] = "$lambda item: item"
    parser["num_workers"] = 1
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    dataset = parser.get_parsed_content("train#dataset")
    assert len(dataset) == 3 and ("Loading dataset" in stream.getvalue()) == tty
