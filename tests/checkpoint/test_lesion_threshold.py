"""The lesion threshold chosen after training on the validation scans (best mean scan Dice), stored in the
checkpoint's metadata with the record of why; the default where too few scans would choose it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from monai_tumorcls.checkpoint import (
    LESION_THRESHOLD,
    MIN_THRESHOLD_SCANS,
    THRESHOLD_GRID,
    CheckpointMetadataError,
    checkpoint_lesion_threshold,
    checkpoint_metadata,
    choose_lesion_threshold,
    lesion_threshold_record,
    read_checkpoint_metadata,
    update_metadata,
)
from monai_tumorcls.handlers import AtomicCheckpointSaver

from ..bundles.helpers import PROJECT_ROOT


class _FaintLesionNet(torch.nn.Module):
    """``forward_lesion``: lesion probability ``peak`` where the image's first channel is 1, almost 0 elsewhere."""

    def __init__(self, peak: float = 0.32):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(float(np.log(peak / (1 - peak)) + 12.0)))

    def forward_lesion(self, x: torch.Tensor):
        return torch.zeros(len(x), 2), x[:, :1] * self.scale - 12.0


def _counts_of_scans(n_scans: int, faint: bool) -> tuple[np.ndarray, list[str]]:
    """Per scan one tumour slice (16 lesion pixels) whose map has probability 0.32 (faint) or 0.9 on the lesion."""
    peak = 0.32 if faint else 0.9
    found = np.array([[16, 16, 16] if peak >= t else [0, 0, 16] for t in THRESHOLD_GRID])
    return np.stack([found] * n_scans), [f"patient{k}/flair" for k in range(n_scans)]


def test_a_faint_map_gets_a_lower_threshold():
    decision = lesion_threshold_record(*_counts_of_scans(6, faint=True))
    record = decision["lesion_threshold_choice"]
    # every threshold up to 0.3 finds the lesions: of equals, the nearest the default
    assert decision["lesion_threshold"] == 0.3
    assert record["scan_dice_at_default"] == 0.0 and record["scan_dice_at_chosen"] == 1.0
    assert record["num_scans"] == 6
    assert record["reason"] == "mean scan Dice 0.0000 at 0.5 -> 1.0000 at 0.3 on 6 validation scans"


def test_a_map_that_is_right_at_the_default_keeps_it():
    assert lesion_threshold_record(*_counts_of_scans(6, faint=False))["lesion_threshold"] == LESION_THRESHOLD


def test_too_few_scans_keep_the_default():
    decision = lesion_threshold_record(*_counts_of_scans(MIN_THRESHOLD_SCANS - 1, faint=True))
    assert decision["lesion_threshold"] == LESION_THRESHOLD
    assert decision["lesion_threshold_choice"]["reason"].startswith(f"{MIN_THRESHOLD_SCANS - 1} validation scans")
    assert "scan_dice_at_chosen" not in decision["lesion_threshold_choice"]


def _checkpoint(tmp_path, net: torch.nn.Module):
    meta = checkpoint_metadata("tiny", ["notumor", "tumor"], {"task": "binary", "image_size": 64}, net, [])
    return AtomicCheckpointSaver(tmp_path, {"model": net}, metadata=meta).save("model.pt", {})


def _validation_slices(n_scans: int) -> list[dict]:
    """Per scan a tumour slice (a 4x4 lesion, in the image and the mask) and a tumour-free slice."""
    items = []
    for k in range(n_scans):
        lesion = torch.zeros(1, 8, 8)
        lesion[:, 2:6, 2:6] = 1
        for image, mask in ((lesion, lesion), (torch.zeros(1, 8, 8), torch.zeros(1, 8, 8))):
            items.append({"image": image.expand(3, 8, 8), "mask": mask, "group": f"p{k}", "sequence": "flair"})
    return items


def test_training_stores_the_chosen_threshold_in_the_checkpoint(tmp_path):
    path = _checkpoint(tmp_path, _FaintLesionNet())
    assert checkpoint_lesion_threshold(read_checkpoint_metadata(path)) == LESION_THRESHOLD  # none chosen yet
    assert choose_lesion_threshold(path, _FaintLesionNet(peak=0.9), _validation_slices(6), batch_size=4) == 0.3
    stored = read_checkpoint_metadata(path)  # the digest binds the choice to the weights
    assert checkpoint_lesion_threshold(stored) == 0.3 and stored["lesion_threshold_choice"]["num_slices"] == 12
    assert choose_lesion_threshold(tmp_path / "missing.pt", _FaintLesionNet(), _validation_slices(6)) is None


def test_a_threshold_outside_the_probabilities_is_refused(tmp_path):
    path = _checkpoint(tmp_path, _FaintLesionNet())
    with pytest.raises(CheckpointMetadataError, match="lesion_threshold: refused value"):
        update_metadata(path, {"lesion_threshold": 1.5})


def test_the_lesion_bundle_chooses_its_threshold_after_calibration():
    config = json.loads((PROJECT_ROOT / "bundles/resnet18_lesion/configs/train.json").read_text())
    steps = config["after_training"]
    assert len(steps) == 2 and "calibrate_checkpoint(" in steps[0] and "choose_lesion_threshold(" in steps[1]
    for name in ("evaluate.json", "inference.json"):
        assert "checkpoint_lesion_threshold(" in (PROJECT_ROOT / "bundles/resnet18_lesion/configs" / name).read_text()
