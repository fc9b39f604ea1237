"""Temperature scaling only where it helps, on synthetic logits: fitted only on enough validation items, kept only if
the held-out validation NLL improves, and the checkpoint's record says which and why."""

from __future__ import annotations

import json

import pytest
import torch

from monai_tumorcls.checkpoint import (
    MIN_CALIBRATION_SAMPLES,
    calibrate_checkpoint,
    calibration_record,
    checkpoint_metadata,
    read_checkpoint_metadata,
)
from monai_tumorcls.handlers import AtomicCheckpointSaver

from ..bundles.helpers import PROJECT_ROOT


def _calibrated(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose softmax is the true class probability (labels drawn from it): nothing to correct."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 2, generator=g) * 2
    return logits, torch.multinomial(torch.softmax(logits, dim=1), 1, generator=g).view(-1)


def test_an_overconfident_model_gets_its_temperature():
    logits, labels = _calibrated(400)
    decision = calibration_record(logits * 3, labels)  # three times too sharp
    record = decision["calibration"]
    assert record["fitted"] and record["kept"] and decision["temperature"] == record["fitted_temperature"]
    assert decision["temperature"] == pytest.approx(3.0, rel=0.15)
    assert record["nll_after"] < record["nll_before"] and record["ece_after"] < record["ece_before"]
    assert record["reason"] == (f"held-out validation NLL {record['nll_before']:.4f} -> {record['nll_after']:.4f}: "
                                "applied")


def test_a_temperature_that_does_not_lower_the_held_out_nll_is_not_applied():
    logits, labels = _calibrated(400)
    decision = calibration_record(logits, labels)
    record = decision["calibration"]
    assert record["fitted"] and not record["kept"] and decision["temperature"] == 1.0
    assert record["fitted_temperature"] != 1.0  # a temperature was found, on the items it was fitted on
    assert record["nll_after"] >= record["nll_before"] and record["reason"].endswith("no improvement: not applied")


def test_too_few_validation_items_fit_nothing():
    logits, labels = _calibrated(60)
    decision = calibration_record(logits * 3, labels)  # overconfident, but 60 items are too few to trust
    record = decision["calibration"]
    assert decision["temperature"] == 1.0 and not record["fitted"] and not record["kept"]
    assert record["reason"] == f"60 validation items, fewer than the {MIN_CALIBRATION_SAMPLES} a temperature is fitted on"
    assert "nll_after" not in record and record["nll_before"] > 0 and record["num_samples"] == 60
    assert calibration_record(logits * 3, labels, min_samples=50)["calibration"]["fitted"]


def test_the_checkpoint_records_a_temperature_it_did_not_apply(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(80, 3)
    labels = (x[:, 0] + 0.8 * torch.randn(80) > 0).long()
    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-8.0, 0, 0], [8.0, 0, 0]]))  # sharp on noisy labels: overconfident
        net.bias.zero_()
    meta = checkpoint_metadata("tiny", ["notumor", "tumor"], {"task": "binary", "image_size": 64}, net, [])
    path = AtomicCheckpointSaver(tmp_path, {"model": net}, metadata=meta).save("model.pt", {})
    dataset = [{"image": xi, "label": yi} for xi, yi in zip(x, labels)]
    assert calibrate_checkpoint(path, torch.nn.Linear(3, 2), dataset, batch_size=32) == 1.0
    stored = read_checkpoint_metadata(path)  # the digest binds the record to the weights
    assert stored["temperature"] == 1.0 and stored["calibration"]["fitted"] is False
    assert stored["calibration"]["reason"].startswith("80 validation items")
    assert calibrate_checkpoint(path, torch.nn.Linear(3, 2), dataset, 32, "cpu", min_samples=40) > 2.0  # trusted
    assert read_checkpoint_metadata(path)["calibration"]["kept"] is True


@pytest.mark.parametrize("train_json", sorted(PROJECT_ROOT.glob("bundles/*/configs/train.json")), ids=lambda p: p.parts[-3])
def test_bundles_calibrate_with_the_documented_minimum(train_json):
    config = json.loads(train_json.read_text())
    calls = [step for step in config.get("after_training", []) if "calibrate_checkpoint(" in step]
    if not calls:  # the self-supervised trunk has no classes to calibrate
        assert train_json.parts[-3] == "ssl_simclr_resnet18"
        return
    assert config["calibration_min_samples"] == MIN_CALIBRATION_SAMPLES
    assert all(step.endswith(", @calibration_min_samples)") for step in calls)
    run = config["run"]  # decided after training, before MLflow logs the checkpoint
    assert run.index("@after_training") == run.index("$@train#trainer.run()") + 1
    assert run.index("$@mlflow_record.log_artifacts()") == len(run) - 1
