"""Integration: the multi-source bundle trains on Kaggle + LGG + IXI, and its evaluation reports on held-out
patients, through the user's own command line. Tiny budget (64 px, one short epoch) so that CI stays fast; the
measured numbers come from benchmarks/external_validation.py (docs/external_validation.md)."""

from __future__ import annotations

import json

import pytest
from monai.bundle import ConfigParser

from .helpers import PROJECT_ROOT, check, run_bundle, train_bundle

CFG = "bundles/resnet18_multisource/configs"
BUDGET = {"max_per_class": 8, "image_size": 64, "epochs": 1, "samples_per_epoch": 64, "val_interval": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    return train_bundle(tmp_path_factory, "resnet18_multisource", f"{CFG}/train.json", fold=1, **BUDGET)


def test_training_uses_all_three_sources(trained):
    root, proc = trained
    out = proc.stdout + proc.stderr
    assert (root / "models" / "model.pt").is_file()
    assert "LGG slices: 6 patients" in out and "IXI" in out and "val_acc" in out


def test_evaluation_reports_held_out_patients_and_kaggle_testing(trained):
    root, _ = trained
    overlays = root / "overlays"
    check(run_bundle([f"{CFG}/train.json", f"{CFG}/evaluate.json"], bundle_root=str(root), fold=1,
                     overlay_dir=str(overlays), **BUDGET))
    kaggle = json.loads((root / "eval" / "metrics.json").read_text())["reports"]
    assert kaggle["testing"]["num_samples"] == 32 and "testing_dedup" in kaggle
    ext = json.loads((root / "eval" / "external.json").read_text())
    assert set(ext["sequences"]) == {"flair", "post_contrast_t1", "pre_contrast_t1"}
    assert ext["fold"] == 1 and ext["sources"] == ["kaggle", "lgg", "ixi"]
    for seq, r in ext["sequences"].items():
        assert 0 <= r["slice_auc"] <= 1 and 0 <= r["position_auc"] <= 1
        assert r["n_patients"] == len(ext["lgg_test_patients"]) >= 1
        assert r["pointing_game_n"] == r["n_tumour_slices"] > 0 and 0 <= r["pointing_game"] <= 1
        assert 0 <= r["pointing_game_brightest_region"] <= 1
    assert ext["healthy_volumes"]["n_subjects"] == 4 and len(ext["ixi_test_subjects"]) == 4
    siemens = ext["healthy_volumes"]["other_scanners"]["siemens-volunteer"]
    assert 0 <= siemens["series_score"] <= 1 and siemens["called_tumour"] == (siemens["series_score"] >= ext["series_rule"]["threshold"])
    assert 0 <= ext["series_rule"]["threshold"] <= 1
    n_items = sum(r["n_slices"] for r in ext["sequences"].values())
    assert len(list(overlays.glob("*.png"))) == n_items  # overlays asked for: Grad-CAM of every evaluated slice
    assert "position-only AUC" in (root / "eval" / "external.md").read_text()
    lgg_train = {it["group"] for it in _parsed(fold=1).get_parsed_content("datalists")["lgg"]["training"]}
    assert not lgg_train & set(ext["lgg_test_patients"])


def _parsed(**overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(PROJECT_ROOT / CFG / "train.json"))
    for k, v in {**BUDGET, **overrides}.items():
        parser[k] = v
    return parser


def test_kaggle_only_option_trains_on_kaggle_alone(data_root):
    parser = _parsed(sources=["kaggle"], cache_rate=0.0)
    datasets = parser.get_parsed_content("train#datasets")
    assert len(datasets["kaggle"]) > 0 and len(datasets["lgg"]) == 0 and len(datasets["ixi"]) == 0
    assert len(parser.get_parsed_content("validate#datasets")["lgg"]) == 0
    sampler = parser.get_parsed_content("train#sampler")
    assert max(iter(sampler)) < len(datasets["kaggle"])


def test_inference_on_a_volume_with_saliency(trained, data_root, tmp_path):
    root, _ = trained
    volume = sorted((data_root / "ixi-healthy-t1-2mm" / "t1").glob("*.nii.gz"))[0]
    out = tmp_path / "out"
    check(run_bundle(f"{CFG}/inference.json", bundle_root=str(root), input_dir=str(volume), output_dir=str(out),
                     saliency=True, train_overrides=repr({"image_size": BUDGET["image_size"]})))
    series = json.loads((out / "clinical.json").read_text())["series"][0]
    contributing = [s for s in series["slices"] if s["contributing"]]
    assert series["decision"]["label"] in ("tumour", "no_tumour") and len(contributing) == 3
    assert all((out / s["saliency_file"]).is_file() for s in contributing)


def test_config_consistency():
    from monai_tumorcls.engines import random_transforms

    cfg = PROJECT_ROOT / CFG
    for name in ("metadata.json", "train.json", "evaluate.json", "inference.json", "logging.conf"):
        assert (cfg / name).is_file(), name
    assert (cfg.parent / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert (cfg.parent / "docs" / "README.md").is_file()
    parser = ConfigParser()
    parser.read_config(str(cfg / "train.json"))
    for key in ("preprocessing", "lgg_preprocessing", "slice_preprocessing"):  # evaluation/inference: no randomness
        assert random_transforms(parser.get_parsed_content(key)) == [], key
    augmentation = [type(t).__name__ for t in parser.get_parsed_content("train#augmentation")]
    assert "RandAdjustContrastd" in augmentation and "RandGaussianSmoothd" in augmentation
    meta = json.loads((cfg / "metadata.json").read_text())
    assert meta["network_data_format"]["inputs"]["image"]["spatial_shape"] == [parser["image_size"]] * 2
    assert meta["network_data_format"]["outputs"]["pred"]["channel_def"] == {"0": "notumor", "1": "tumor"}
