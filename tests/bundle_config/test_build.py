"""``monai_tumorcls.bundle.build`` on tiny synthetic templates and recipes: MONAI's id syntax, the merge of several
templates, ``_remove_``, and ``check`` failing on a hand-edited built config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monai_tumorcls.bundle import __main__ as cli
from monai_tumorcls.bundle import build

TRAIN = {
    "bundle_name": "<set by build>",
    "lr": 0.1,
    "network_def": {"_target_": "Net", "head": "linear", "layers": {"n": 2}},
    "transforms": [{"_target_": "Flip", "prob": 0.5}, {"_target_": "Rotate", "degrees": 15.0}],
    "sizes": [1, 2, 3],
}
#: an override file: MONAI reads its "validate#dataset" key as an id when it merges the file onto train.json.
EVALUATE = {"validate#dataset": {"data": "$@datalists['testing']", "batch": 8}, "run": ["$@evaluator.run()"]}
TWO_STAGE = {"stage1": {"epochs": 3}, "run": ["$@stage1.run()", "$@trainer.run()"]}


@pytest.fixture
def templates(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, config in {"train.json": TRAIN, "evaluate.json": EVALUATE, "two_stage.json": TWO_STAGE}.items():
        (folder / name).write_text(json.dumps(config))
    (folder / "logging.conf").write_text("[loggers]\nkeys=root\n")
    monkeypatch.setattr(build, "TEMPLATES_DIR", folder)
    return folder


def test_recipe_ids_are_set_as_monai_sets_them(templates):
    recipe = {
        "network_def#head": "dense",  # into a nested dict
        "network_def::layers#n": 4,  # "::" is MONAI's separator, "#" its alias
        "transforms#1#degrees": 10.0,  # into a list item
        "sizes": [7],  # a list is replaced whole
        "+transforms": [{"_target_": "Zoom"}],  # MONAI's "+": a list extended
        "momentum": 0.9,  # a new key goes last
    }
    config = build.build_config("train", recipe, "my_bundle")
    assert config == {
        "bundle_name": "my_bundle",
        "lr": 0.1,
        "network_def": {"_target_": "Net", "head": "dense", "layers": {"n": 4}},
        "transforms": [TRAIN["transforms"][0], {"_target_": "Rotate", "degrees": 10.0}, {"_target_": "Zoom"}],
        "sizes": [7],
        "momentum": 0.9,
    }
    assert list(config) == list(TRAIN) + ["momentum"]  # the template's order kept
    assert build.base_config("train", recipe) == TRAIN  # the template file itself is untouched


def test_override_file_ids_and_merged_templates(templates):
    evaluate = build.build_config("evaluate", {"validate#dataset#data": "$@datalists['other']", "+run": ["$@x()"]}, "b")
    assert evaluate["validate#dataset"] == {"data": "$@datalists['other']", "batch": 8}
    assert evaluate["run"] == ["$@evaluator.run()", "$@x()"] and "bundle_name" not in evaluate
    section = {"_base_": ["train.json", "two_stage.json"], "_remove_": ["lr", "network_def#layers"], "stage1#epochs": 5}
    train = build.build_config("train", section, "b")
    assert "lr" not in train and train["network_def"] == {"_target_": "Net", "head": "linear"}
    assert train["stage1"] == {"epochs": 5} and train["run"] == TWO_STAGE["run"]
    with pytest.raises(KeyError):
        build.build_config("train", {"no_such#key": 1}, "b")


def test_restated_ids_are_the_entries_that_change_nothing(templates):
    section = {"_remove_": ["lr", "absent"], "network_def#head": "linear", "sizes": [1, 2, 3], "transforms#0#prob": 1.0}
    assert build.restated_ids("train", section) == ["network_def#head", "sizes", "absent"]


def _bundle(root: Path, name: str, recipe: dict | None) -> Path:
    (root / name / "configs").mkdir(parents=True)
    (root / name / "configs" / "metadata.json").write_text("{}")
    if recipe is not None:
        (root / name / "recipe.json").write_text(json.dumps(recipe))
    return root / name / "configs"


def test_check_fails_on_a_hand_edited_built_config(templates, tmp_path, capsys):
    root = tmp_path / "bundles"
    configs = _bundle(root, "b1", {"train": {"lr": 0.01}, "evaluate": {}})
    _bundle(root, "no_recipe", None)  # gets logging.conf only; its other configs are hand-written
    assert len(build.build_bundles(root)) == 4 and build.check_bundles(root) == [] and build.build_bundles(root) == []
    assert json.loads((configs / "train.json").read_text())["bundle_name"] == "b1"
    assert sorted(p.name for p in (root / "no_recipe" / "configs").iterdir()) == ["logging.conf", "metadata.json"]

    train = configs / "train.json"
    train.write_text(train.read_text().replace("0.01", "0.02"))  # edited by hand instead of in recipe.json
    (stale,) = build.check_bundles(root)
    assert stale.startswith(f"{train}: ") and "python -m monai_tumorcls.bundle build" in stale
    with pytest.raises(SystemExit) as exit_info:
        cli.check(root)
    assert exit_info.value.code == 1 and capsys.readouterr().out == stale + "\n"
    assert build.build_bundles(root) == [str(train)] and build.check_bundles(root) == []
