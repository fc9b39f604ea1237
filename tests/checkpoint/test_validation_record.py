"""The validation record of a checkpoint: its schema (typed, bounded, never config), the stamp function and command
(re-saved with a new digest, atomically; an edited checkpoint is never re-sealed)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from monai_tumorcls.checkpoint import (
    CheckpointDigestError,
    CheckpointMetadataError,
    read_metadata,
    save_checkpoint,
    stamp_validation_record,
    validate_metadata,
    validation_record,
)
from monai_tumorcls.checkpoint.stamp import main

from tests.security.hostile_checkpoints import VALIDATION

METADATA = {"bundle": "resnet18_lesion", "class_names": ["notumor", "tumor"], "options": {"image_size": 64}}


def _with(field: str, value) -> dict:
    record = copy.deepcopy(VALIDATION)
    record[field] = value
    return {**METADATA, "validation": record}


def test_a_genuine_record_passes():
    assert validate_metadata({**METADATA, "validation": VALIDATION})["validation"] == VALIDATION
    assert validation_record(["kaggle"], {"flair.slice_auc": 0.9}, "one fold") == {
        "trained_on": ["kaggle"], "volumes_validated": False, "summary": "one fold",
        "held_out": {"flair.slice_auc": 0.9}, "source": "docs/reports/external_validation.md"}


@pytest.mark.parametrize("field, value", [
    ("trained_on", []), ("trained_on", ["kaggle", "$x"]), ("trained_on", "kaggle"), ("trained_on", ["a b"]),
    ("volumes_validated", "yes"), ("volumes_validated", 1), ("volumes_validated", None),
    ("summary", "x" * 401), ("summary", ""), ("summary", "fine\n2026-12-01 - INFO - forged line"),
    ("summary", "\x1b[2Jcleared screen"), ("summary", "@run"), ("summary", 0.9),
    ("held_out", {"flair.slice_auc": math.nan}), ("held_out", {"flair.slice_auc": math.inf}),
    ("held_out", {"flair.slice_auc": True}), ("held_out", {"flair.slice_auc": "0.9"}),
    ("held_out", {"$flair": 0.9}), ("held_out", {f"m{i}": 0.5 for i in range(65)}), ("held_out", [0.9]),
    ("source", "/etc/passwd"), ("source", "../../secret.md"), ("source", "docs/../../x"), ("source", "$x"),
    ("source", "https://evil.example/x"), ("source", None),
])
def test_hostile_and_malformed_values_are_refused(field, value):
    with pytest.raises(CheckpointMetadataError, match=f"validation.{field}"):
        validate_metadata(_with(field, value))


def test_unknown_and_missing_fields_are_refused():
    for record in ({**VALIDATION, "_target_": "pathlib.Path.touch"}, {**VALIDATION, "note": "x"},
                   {k: v for k, v in VALIDATION.items() if k != "held_out"}, ["kaggle"]):
        with pytest.raises(CheckpointMetadataError, match="validation"):
            validate_metadata({**METADATA, "validation": record})


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    weights = {"model": {"w": torch.randn(3, 2)}, "optimizer": {"step": torch.tensor(4)}}
    return save_checkpoint(tmp_path / "model.pt", weights, METADATA), weights


def test_stamp_keeps_the_weights_and_reseals(checkpoint):
    path, weights = checkpoint
    stamp_validation_record(path, VALIDATION)
    assert read_metadata(path) == {**METADATA, "validation": VALIDATION}  # digest checked: re-sealed
    raw = torch.load(path, weights_only=True)
    assert torch.equal(raw["model"]["w"], weights["model"]["w"]) and int(raw["optimizer"]["step"]) == 4
    newer = {**VALIDATION, "summary": "6 folds"}
    stamp_validation_record(path, newer)  # a later record replaces the earlier one
    assert read_metadata(path)["validation"] == newer
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # written atomically: no temporary left


def test_stamp_refuses_edited_plain_and_hostile(checkpoint, tmp_path):
    path, _ = checkpoint
    with pytest.raises(CheckpointMetadataError, match=f"{path}: validation record refused"):
        stamp_validation_record(path, {**VALIDATION, "summary": "$__import__('os')"})
    raw = torch.load(path, weights_only=True)
    raw["metadata"]["options"]["image_size"] = 32  # edited after training: stamping must not launder it
    torch.save(raw, path)
    with pytest.raises(CheckpointDigestError):
        stamp_validation_record(path, VALIDATION)
    plain = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match="holds no metadata"):
        stamp_validation_record(plain, VALIDATION)


def test_the_stamp_command(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    record_file = tmp_path / "record.json"
    record_file.write_text(json.dumps(VALIDATION))
    assert main(["--checkpoint", str(path), "--record", str(record_file)]) == 0
    assert json.loads(capsys.readouterr().out) == VALIDATION
    assert main(["--checkpoint", str(path)]) == 0 and json.loads(capsys.readouterr().out) == VALIDATION
    record_file.write_text(json.dumps({**VALIDATION, "held_out": {"x": "NaN"}}))
    assert main(["--checkpoint", str(path), "--record", str(record_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "validation.held_out" in err and str(path) in err
    assert read_metadata(path)["validation"] == VALIDATION  # the refused record changed nothing
