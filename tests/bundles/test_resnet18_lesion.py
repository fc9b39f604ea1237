"""Integration: the lesion-grounded bundle trains (class + lesion mask, level-balanced draws) from a trunk file on
Kaggle + LGG + IXI, then evaluates and infers through the user's own command lines. Tiny budget: 3 LGG patients
(FLAIR), a few Kaggle images, 2 IXI subjects, 64 px, one epoch of 32 draws."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import torchvision

from monai_tumorcls.checkpoint import load_checkpoint, read_checkpoint_metadata
from monai_tumorcls.networks import LesionClassifier

from .helpers import check, run_bundle

CFG = "bundles/resnet18_lesion/configs"
IXI_SLICES = ("$monai_tumorcls.data.volume_slice_datalist(@datalists['ixi']['{split}'][:{n}], None, @class_names, "
              "@positive_classes[0])")
#: a smaller decoder than the default, with the fifth (input-resolution) level: inference (no overrides) must rebuild
#: it from the checkpoint's options
DECODER = [32, 16, 8, 8, 8]
BUDGET = {"max_per_class": 4, "max_patients": 3, "lgg_sequences": ["flair"], "image_size": 64, "cache_rate": 0,
          "num_workers": 0, "decoder_channels": DECODER}
TRAIN = {"epochs": 1, "samples_per_epoch": 32, "batch_size": 16, "val_interval": 1, "cosine_lr": "true",
         "ixi_slices#training": IXI_SLICES.format(split="training", n=2),
         "ixi_slices#validation": IXI_SLICES.format(split="validation", n=1)}
#: evaluation: one IXI subject each for the series threshold and the test, not the other scanners' volume (time)
EVALUATE = {"ixi_slices#training": "$[]", "ixi_slices#validation": "$[]", "other_healthy": "$[]",
            "external#people#ixi": "$dict(@datalists['ixi'], validation=@datalists['ixi']['validation'][:1], "
                            "testing=@datalists['ixi']['testing'][:1])"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    """The bundle trained from a torchvision resnet18 trunk file (random weights: no download)."""
    work = tmp_path_factory.mktemp("resnet18_lesion")
    trunk = work / "trunk.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), trunk)
    root = work / "bundle_root"
    proc = check(run_bundle(f"{CFG}/train.json", run_id="training", bundle_root=str(root), pretrained=str(trunk),
                            **BUDGET, **TRAIN))
    return root, trunk, proc.stdout + proc.stderr


@pytest.mark.integration
def test_training_writes_a_lesion_classifier(trained):
    root, trunk, out = trained
    assert "loaded 120/120 trunk tensors" in out and str(trunk) in out  # started from the trunk file
    assert "LGG slices: 3 patients" in out and "train_loss" in out and "val_acc" in out
    assert "val_dice: " in out  # the lesion map's validation Dice, logged with the class metrics
    meta = read_checkpoint_metadata(root / "models" / "model.pt")
    assert meta["network"]["class"] == "LesionClassifier" and meta["initialisation"]["pretrained"] == str(trunk)
    assert [s["class"] for s in meta["preprocessing"]][:3] == ["EnsureThreeChanneld", "Resized", "BrainMaskNormalized"]
    assert meta["options"]["decoder_channels"] == DECODER
    # the lesion threshold was decided on the validation scans after training: 1 patient is too few to choose one
    choice = meta["lesion_threshold_choice"]
    assert meta["lesion_threshold"] == 0.5 and choice["num_scans"] == 1 and choice["num_slices"] > 1
    assert meta["calibration"]["split"] == "validation"  # the steps after training ran in order, both stored
    assert choice["reason"].startswith("1 validation scans with a mask, fewer than the 5")
    net = LesionClassifier(decoder_channels=DECODER)
    load_checkpoint(root / "models" / "model.pt", net)  # decoder weights included, strict
    logits, lesion = net.eval().forward_lesion(torch.zeros(1, 3, 64, 64))
    assert logits.shape == (1, 2) and lesion.shape == (1, 1, 64, 64)
    schedule = torch.load(root / "models" / "training_state.pt", weights_only=True)["lr_scheduler"]
    assert schedule["T_max"] == 1 and schedule["_last_lr"] == [0.0]  # cosine_lr: decayed to 0 over the one epoch


@pytest.mark.integration
def test_evaluate_and_infer_with_the_trained_model(trained, kaggle_root, tmp_path):
    root, trunk, _ = trained
    check(run_bundle([f"{CFG}/train.json", f"{CFG}/evaluate.json"], bundle_root=str(root), pretrained=str(trunk),
                     **BUDGET, **EVALUATE))
    reports = json.loads((root / "eval" / "metrics.json").read_text())["reports"]
    assert reports["testing"]["num_samples"] == 16
    ext = json.loads((root / "eval" / "external.json").read_text())
    flair = ext["sequences"]["flair"]
    assert 0 <= flair["slice_auc"] <= 1 and 0 <= flair["position_auc"] <= 1
    assert flair["pointing_game_n"] == flair["n_tumour_slices"] > 0  # Grad-CAM on features.layer4 ran
    assert ext["lesion_threshold"] == 0.5 and flair["scan_n"] == flair["n_patients"] > 0  # every held-out scan
    assert 0 <= flair["scan_dice_mean"] <= 1 and 0 <= flair["threshold_dice_mean"] <= 1
    assert ext["healthy_volumes"]["n_subjects"] == 1

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for cls in ("glioma", "notumor"):
        src = sorted((kaggle_root / "Testing" / cls).iterdir())[0]
        (inputs / src.name).write_bytes(src.read_bytes())
    out = tmp_path / "outputs"
    check(run_bundle(f"{CFG}/inference.json", bundle_root=str(root), input_dir=str(inputs), output_dir=str(out)))
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(r["status"] == "ok" and r["predicted"] in ("notumor", "tumor") for r in rows)
