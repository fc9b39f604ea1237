"""tools/full_recipes.py: which full-recipe runs are queued, in what order, what counts as done, and the resumable
commands it starts (subprocess replaced: nothing trains here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from tools import full_recipes as full_recipes_module


@pytest.fixture()
def recipes(tmp_path, monkeypatch):
    module = full_recipes_module
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "RESULTS_DIR", tmp_path / "docs" / "results")

    def no_imagenet(arch):
        raise module.PretrainedWeightsNotFoundError(arch)

    monkeypatch.setattr(module, "find_imagenet_weights", no_imagenet)
    return module


def test_queue_without_imagenet_pretrains_the_simclr_trunk_before_the_transfer_rows(recipes):
    names = [recipes.name(e) for e in recipes.queue()]
    assert names == ["spp-brats2015", "basic-brats2015", "full-recipe-random-init-resnet50", "basic-kaggle",
                     "spp-kaggle", "ssl_simclr_resnet50", "tl-simclr-brats2015", "spp-tl-simclr-brats2015",
                     "tl-simclr-kaggle", "spp-tl-simclr-kaggle", "full-recipe-random-init-resnet101",
                     "full-recipe-random-init-resnet152"]
    tl = next(e for e in recipes.queue() if e.label == "spp-tl-simclr-kaggle")
    assert tl.overrides == ("--head", "spp", "--pretrained", recipes.SSL_BACKBONE, "--dataset", "kaggle")


def test_queue_with_imagenet_in_the_hub_cache_needs_no_trunk(recipes, monkeypatch):
    monkeypatch.setattr(recipes, "find_imagenet_weights", lambda arch: Path("/hub/resnet50-0676ba61.pth"))
    entries = recipes.queue()
    assert all(e.label for e in entries)  # no SimCLR job
    assert [e.label for e in entries if "tl" in e.label] == ["tl-imagenet-brats2015", "spp-tl-imagenet-brats2015",
                                                            "tl-imagenet-kaggle", "spp-tl-imagenet-kaggle"]


def test_progress_reads_the_training_state_and_the_record(recipes, tmp_path):
    entry = recipes.queue()[0]
    assert entry.progress() == "not started"
    models = tmp_path / entry.root / "models"
    models.mkdir(parents=True)
    torch.save({"trainer": {"epoch_length": 80, "iteration": 240, "max_epochs": 25}}, models / "training_state.pt")
    assert entry.progress() == "epoch 3 of 25 (training_state.pt)"
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "resnet50_spp_binary__spp-brats2015.json").write_text("{}")
    assert entry.done() and entry.progress() == "done"


def test_simclr_trunk_is_done_only_after_its_final_epoch(recipes, tmp_path):
    ssl = next(e for e in recipes.queue() if e.label is None)
    info = tmp_path / ssl.root / "models" / "backbone.pt.json"
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"epoch": 7, "kind": "best"}))  # an interrupted run leaves a usable, unfinished trunk
    assert not ssl.done()
    info.write_text(json.dumps({"epoch": 15, "kind": "final"}))
    assert ssl.done()


def test_main_starts_each_unfinished_entry_resumable_with_the_extra_overrides(recipes, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(recipes.subprocess, "run", lambda cmd, cwd, check: started.append(cmd))
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "resnet50_spp_binary__basic-brats2015.json").write_text("{}")  # done: skipped
    recipes.main(["--only", "basic-brats2015", "ssl_simclr_resnet50", "spp-brats2015", "--note", "n", "--", "--amp", "true"])
    assert [cmd[1:3] for cmd in started] == [["-m", "studies.results"], ["-m", "monai.bundle"]]
    p3, ssl = started
    assert p3[p3.index("--label") + 1] == "spp-brats2015" and p3[p3.index("--note") + 1] == "n"
    assert p3[p3.index("--"):] == ["--", "--head", "spp", "--pretrained", "None", "--dataset", "brats2015",
                                   "--resume", "true", "--amp", "true"]
    assert ssl[0] == sys.executable and ssl[-4:] == ["--resume", "true", "--amp", "true"]
    assert ssl[ssl.index("--bundle_root") + 1] == recipes.SSL_ROOT and "resnet50" in ssl


def test_extra_overrides_replace_the_entry_s_own_keys(recipes):
    ssl = next(e for e in recipes.queue() if e.label is None)
    cmd = ssl.command("", ["--num_workers", "16", "--amp", "true"])
    assert cmd.count("--num_workers") == 1 and cmd[cmd.index("--num_workers") + 1] == "16"
    with pytest.raises(SystemExit, match="--key value pairs"):
        ssl.command("", ["--amp"])


def test_only_with_an_unknown_name_lists_the_entries(recipes, capsys):
    with pytest.raises(SystemExit):
        recipes.main(["--only", "spp-brats2051"])
    err = capsys.readouterr().err
    assert "--only names none of: spp-brats2051" in err and "basic-brats2015" in err
