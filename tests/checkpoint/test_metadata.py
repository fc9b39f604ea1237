"""Self-describing checkpoints on synthetic tiny models: what the saver stores, how inference applies and checks it,
and the temperature fitted on a validation set."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from monai.transforms import NormalizeIntensityd, Resized

from monai_tumorcls.checkpoint import (
    CheckpointMismatchError,
    calibrate_checkpoint,
    check_checkpoint_values,
    checkpoint_metadata,
    checkpoint_train_overrides,
    data_summary,
    describe_transforms,
    load_checkpoint,
    read_checkpoint_metadata,
)
from monai_tumorcls.handlers import AtomicCheckpointSaver

CLASSES = ["notumor", "tumor"]


def _transforms(size: int = 64, mean: float = 0.5):
    return [Resized("image", (size, size)), NormalizeIntensityd("image", subtrahend=torch.full((3, 1, 1), mean), divisor=0.5)]


def _metadata(net, size: int = 64) -> dict:
    data = {"training": [{"image": "/p/TCGA-01.png", "label": 1, "source": "lgg"}, {"image": "/p/b.png", "label": 0}]}
    return checkpoint_metadata("tiny", CLASSES, {"task": "binary", "image_size": size, "backbone": "resnet18"}, net,
                               _transforms(size), pretrained=None, data=data)


def test_saver_stores_plain_metadata_next_to_the_weights(tmp_path):
    net = torch.nn.Linear(3, 2)
    meta = _metadata(net)
    path = AtomicCheckpointSaver(tmp_path, {"model": net}, metadata=meta).save("model.pt", {"kind": "final"})
    raw = torch.load(path, weights_only=True)  # plain types only: loads without unpickling objects
    assert set(raw) == {"model", "metadata", "digest"} and raw["metadata"] == meta  # the digest binds them
    other = torch.nn.Linear(3, 2)
    load_checkpoint(path, other)
    assert torch.equal(other.weight, net.weight)
    assert read_checkpoint_metadata(path) == meta
    assert meta["options"]["image_size"] == 64 and meta["class_names"] == CLASSES and meta["temperature"] == 1.0
    assert meta["initialisation"]["description"].startswith("random initialisation")
    assert {"torch", "monai", "monai_tumorcls"} <= set(meta["environment"])
    assert meta["training_data"]["training"] == {"total": 2, "per_class": {"tumor": 1, "notumor": 1}, "per_source": {"lgg": 1}}
    assert "TCGA" not in repr(meta)  # counts only, no identifiers
    resize = meta["preprocessing"][0]
    assert resize["class"] == "Resized" and resize["resizer"]["spatial_size"] == [64, 64]


def test_checkpoint_without_metadata_loads_with_a_warning(tmp_path, caplog):
    net = torch.nn.Linear(3, 2)
    path = AtomicCheckpointSaver(tmp_path, {"model": net}).save("model.pt", {})
    assert set(torch.load(path, weights_only=True)) == {"weight", "bias"}  # the plain layout, as before
    with caplog.at_level(logging.WARNING):
        assert read_checkpoint_metadata(path) == {}
    assert "holds no metadata" in caplog.text
    assert checkpoint_train_overrides({}, {"image_size": 224}) == {"image_size": 224}
    check_checkpoint_values({}, {"image_size": 224}, _transforms(224))  # nothing to check against


def test_stored_options_become_overrides_and_contradictions_are_refused():
    meta = _metadata(torch.nn.Linear(3, 2))
    assert checkpoint_train_overrides(meta)["image_size"] == 64
    assert checkpoint_train_overrides(meta, {"image_size": 64, "epochs": 2}) == {**meta["options"], "epochs": 2}
    with pytest.raises(CheckpointMismatchError, match=r"^image_size=224 contradicts the checkpoint, trained with image_size=64"):
        checkpoint_train_overrides(meta, {"image_size": 224})
    with pytest.raises(CheckpointMismatchError, match="backbone='resnet50'"):
        check_checkpoint_values(meta, {"backbone": "resnet50"})
    with pytest.raises(CheckpointMismatchError, match="class_names"):
        check_checkpoint_values(meta, {"class_names": ["glioma", "meningioma", "notumor", "pituitary"]})
    check_checkpoint_values(meta, {"image_size": 64, "class_names": CLASSES, "backbone": "resnet18"}, _transforms(64))
    with pytest.raises(CheckpointMismatchError, match=r"preprocessing step 1 \(NormalizeIntensityd\)"):
        check_checkpoint_values(meta, {}, _transforms(64, mean=0.4))
    message = str(pytest.raises(CheckpointMismatchError, checkpoint_train_overrides, meta, {"image_size": 224}).value)
    assert "\n" not in message


def test_describe_transforms_is_stable_and_plain():
    first, second = describe_transforms(_transforms()), describe_transforms(_transforms())
    assert first == second
    assert first[1]["normalizer"]["subtrahend"] == [[[0.5]]] * 3
    assert data_summary({"validation": []}, CLASSES) == {"validation": {"total": 0, "per_class": {}}}


def test_calibrate_checkpoint_fits_and_stores_the_temperature(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(400, 3)
    labels = (x[:, 0] + 0.8 * torch.randn(400) > 0).long()  # noisy labels: a sharp model is overconfident
    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-8.0, 0, 0], [8.0, 0, 0]]))
        net.bias.zero_()
    path = AtomicCheckpointSaver(tmp_path, {"model": net}, metadata=_metadata(net)).save("model.pt", {})
    dataset = [{"image": xi, "label": yi} for xi, yi in zip(x, labels)]
    t = calibrate_checkpoint(path, torch.nn.Linear(3, 2), dataset, batch_size=64)
    meta = read_checkpoint_metadata(path)
    assert t > 2.0 and meta["temperature"] == pytest.approx(t)
    cal = meta["calibration"]
    assert cal["num_samples"] == 400 and cal["split"] == "validation"
    assert cal["fitted"] and cal["kept"] and cal["fitted_temperature"] == t and cal["reason"].endswith(": applied")
    assert cal["nll_after"] < cal["nll_before"]
    assert cal["ece_after"] < cal["ece_before"] and cal["brier_after"] < cal["brier_before"]
    load_checkpoint(path, torch.nn.Linear(3, 2))  # the weights are untouched and still load


def test_calibrate_refuses_a_checkpoint_without_metadata(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = AtomicCheckpointSaver(tmp_path, {"model": net}).save("model.pt", {})
    with pytest.raises(ValueError, match="no metadata"):
        calibrate_checkpoint(path, net, [{"image": torch.zeros(3), "label": 0}])


def test_calibrate_skips_an_empty_validation_split_or_a_missing_checkpoint(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = AtomicCheckpointSaver(tmp_path, {"model": net}, metadata=_metadata(net)).save("model.pt", {})
    assert calibrate_checkpoint(path, net, []) is None
    meta = read_checkpoint_metadata(path)
    assert meta.get("temperature", 1.0) == 1.0 and "calibration" not in meta
    assert calibrate_checkpoint(tmp_path / "never_written.pt", net, [{"image": torch.zeros(3), "label": 0}]) is None


def test_clinical_slice_probabilities_use_the_temperature():
    from monai_tumorcls.apps.clinical import PredictionOptions, SlicePredictor

    class MeanLogits(torch.nn.Module):
        def forward(self, x):
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([m, -m], dim=1)

    images = np.stack([np.full((4, 4), v, np.float32) for v in (0.5, 2.0)])
    logits = torch.tensor([[0.5, -0.5], [2.0, -2.0]])

    def to_rgb(d):
        return {"image": d["image"].repeat(3, 1, 1)}

    for t in (1.0, 2.0):
        got = SlicePredictor(MeanLogits(), to_rgb, CLASSES, PredictionOptions(temperature=t)).probabilities(images, np.arange(2), (1.0, 1.0), "s")
        np.testing.assert_allclose(got, torch.softmax(logits / t, dim=1).numpy(), atol=1e-6)


def test_an_added_preprocessing_step_is_refused():
    meta = _metadata(torch.nn.Linear(3, 2))
    with pytest.raises(CheckpointMismatchError, match=r"step 2 \(Resized\) differs from the checkpoint's \(none\)"):
        check_checkpoint_values(meta, {}, _transforms(64) + [Resized("image", (64, 64))])
