"""Smoke tests of the MONAI bundles: train -> evaluate -> infer on a tiny budget of real images, plus config checks.

The smoke runs call ``python -m monai.bundle run`` in a subprocess (``helpers.run_bundle``), exactly the user's
command, rather than ``monai.bundle.run(...)`` in-process: this exercises the command-line parsing of overrides
(``--stage1#epochs 1``, ``--train_overrides#image_size 64``, the list-valued ``--config_file`` of the evaluate
overlay), the bundle's ``logging.conf``, the exit status that inference sets with ``sys.exit`` when a file fails,
and config expressions evaluated from the project root; and each run starts from a fresh process (determinism seed,
logging handlers, torch threads) that cannot leak into other tests. The price is about 5 s of imports per command,
3 commands per bundle.

The budget (``SMOKE_BUDGET``) is the "short CPU budget" documented in each bundle's ``docs/README.md``:
real images, a few per class, 64 px, one epoch (and one stage-1 epoch for two-stage bundles).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.bundle.build import check_bundles, restated_ids
from monai_tumorcls.engines import random_transforms
from monai_tumorcls.checkpoint import load_checkpoint
from monai_tumorcls.handlers import read_epoch_log
from monai_tumorcls.networks import (
    DenseHead,
    LinearHead,
    PretrainedWeightsNotFoundError,
    SPPHead,
    trainable_parameters,
)

from .helpers import PROJECT_ROOT, check, run_bundle

BUNDLES_DIR = PROJECT_ROOT / "bundles"
TEMPLATE = "resnet18_binary"  # pipeline 1: its recipe.json is empty, its configs are the templates'
#: bundles smoke-trained here (resnet18_binary has its own end-to-end test).
SMOKE_BUNDLES = ("resnet18_4class", "resnet50_4class", "resnet50_spp_binary", "resnet50_finetune_4class")
TWO_STAGE = ("resnet18_4class", "resnet50_finetune_4class")
ALL_BUNDLES = (TEMPLATE,) + SMOKE_BUNDLES

#: the documented short CPU budget (see each bundle's docs/README.md).
SMOKE_BUDGET = {
    "max_per_class": 6,
    "max_per_class_test": 4,
    "epochs": 1,
    "image_size": 64,
    "batch_size": 8,
    "cache_rate": 0,
    "num_workers": 0,
}
METRICS = ("precision", "recall", "f1", "sensitivity", "specificity")


def _budget(bundle: str) -> dict:
    return {**SMOKE_BUDGET, **({"stage1#epochs": 1} if bundle in TWO_STAGE else {})}


def _configs(bundle: str) -> Path:
    return BUNDLES_DIR / bundle / "configs"


def _parse(bundle: str, tmp_path: Path, **overrides):
    return load_bundle_config(BUNDLES_DIR / bundle, "train.json", {"bundle_root": str(tmp_path), **overrides})


def _check_report(report: dict, class_names: list[str], num_samples: int) -> None:
    assert report["num_samples"] == num_samples
    assert report["class_names"] == class_names
    assert 0.0 <= report["accuracy"] <= 1.0
    for m in METRICS:
        assert 0.0 <= report["macro"][m] <= 1.0, m
    assert set(report["per_class"]) == set(class_names)
    for name in class_names:
        assert set(METRICS) <= set(report["per_class"][name]), name
    cm = torch.tensor(report["confusion_matrix"])
    assert cm.shape == (len(class_names), len(class_names)) and int(cm.sum()) == num_samples
    binary = report["binary"]  # tumour vs no tumour: ACC, PREC, REC, F1, SEN, SPEC
    for m in ("accuracy",) + METRICS:
        assert 0.0 <= binary[m] <= 1.0, m


# --------------------------------------------------------------------------------------------------------------------
# end-to-end smoke runs on real images
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inference_inputs(tmp_path_factory, kaggle_root) -> Path:
    """Two real Testing images (a glioma and a no-tumour slice) and one corrupt (truncated) JPEG."""
    folder = tmp_path_factory.mktemp("inference_inputs")
    for cls in ("glioma", "notumor"):
        src = sorted((kaggle_root / "Testing" / cls).iterdir())[0]
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "corrupt_truncated.jpg").write_bytes(src.read_bytes()[:300])
    return folder


@pytest.mark.integration
@pytest.mark.parametrize("bundle", SMOKE_BUNDLES)
def test_bundle_train_evaluate_infer(bundle, tmp_path, kaggle_root, inference_inputs, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # never pick up a locally cached weights file
    root = tmp_path / "bundle_root"
    cfg = f"bundles/{bundle}/configs"
    budget = _budget(bundle)

    # 1. training
    check(run_bundle(f"{cfg}/train.json", run_id="training", bundle_root=str(root), **budget))
    ckpt = root / "models" / "model.pt"
    assert json.loads((root / "models" / "model.pt.json").read_text())["kind"] == "best"
    if bundle in TWO_STAGE:
        assert (root / "models" / "model_stage1.pt").is_file()
    (epoch,) = read_epoch_log(root / "models" / "training_state.pt")  # the validation scores the run saw
    assert list(epoch)[3:] == ["val_acc", "val_auc"] and all(0 <= epoch[k] <= 1 for k in ("val_acc", "val_auc"))
    state = load_checkpoint(ckpt)
    parser = _parse(bundle, tmp_path, **budget)
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(state, strict=True)
    class_names = parser.get_parsed_content("class_names")

    # 2. evaluation overlay on the Testing subset
    check(run_bundle([f"{cfg}/train.json", f"{cfg}/evaluate.json"], bundle_root=str(root), **SMOKE_BUDGET))
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    assert metrics["bundle"] == bundle
    assert metrics["checkpoint"] == str(ckpt)
    reports = metrics["reports"]
    assert {"testing", "testing_dedup"} <= set(reports)
    num_test = SMOKE_BUDGET["max_per_class_test"] * 4  # four class folders in Testing
    _check_report(reports["testing"], class_names, num_test)
    _check_report(reports["testing_dedup"], class_names, reports["testing_dedup"]["num_samples"])
    for name in ("confusion_matrix.csv", "confusion_matrix.png", "confusion_matrix_testing_dedup.csv",
                 "confusion_matrix_testing_dedup.png", "metrics.md", "predictions.csv"):
        assert (root / "eval" / name).stat().st_size > 0, name
    with open(root / "eval" / "predictions.csv", newline="") as f:
        files = sorted(r["file"] for r in csv.DictReader(f))  # every Testing image accounted for, by its path
    testing = parser.get_parsed_content("datalists")["testing"]
    assert files == sorted(it["image"] for it in testing)
    assert reports["testing_other_sizes"]["num_samples"] == sum(not it["size_512x512"] for it in testing) > 0

    # 3. inference on a folder with one corrupt file: one row per file, the run exits with status 1
    overrides = {"train_overrides#image_size": SMOKE_BUDGET["image_size"]}  # the size the model was trained at
    proc = run_bundle(f"{cfg}/inference.json", bundle_root=str(root), input_dir=str(inference_inputs), **overrides)
    assert proc.returncode == 1, (proc.stdout + proc.stderr)[-4000:]
    with open(root / "outputs" / "predictions.csv", newline="") as f:
        rows = {Path(r["file"]).name: r for r in csv.DictReader(f)}
    assert set(rows) == {p.name for p in inference_inputs.iterdir()}
    bad = rows.pop("corrupt_truncated.jpg")
    assert bad["status"] == "error" and "corrupt_truncated.jpg" in bad["error"] and not bad["predicted"]
    for name, row in rows.items():
        assert row["status"] == "ok" and not row["error"], name
        assert row["predicted"] in class_names, name
        assert sum(float(row[f"prob_{c}"]) for c in class_names) == pytest.approx(1.0, abs=1e-4), name
    summary = json.loads((root / "outputs" / "predictions.json").read_text())
    assert summary["num_files"] == 3 and summary["num_failed"] == 1


@pytest.mark.integration
def test_cli_pretrained_imagenet_missing_fails_clearly(tmp_path, kaggle_root, monkeypatch):
    """``--pretrained imagenet`` (the +TL ablation settings) with no weights file in the hub cache stops the run with
    the missing-weights error; it never falls back to random initialisation."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    root = tmp_path / "bundle_root"
    proc = run_bundle(
        "bundles/resnet50_spp_binary/configs/train.json", run_id="training", bundle_root=str(root),
        pretrained="imagenet", **SMOKE_BUDGET,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-4000:]
    assert "PretrainedWeightsNotFoundError" in out, out[-4000:]
    assert "ImageNet weights for 'resnet50' not found" in out, out[-4000:]
    assert "resnet50-0676ba61.pth" in out and str(tmp_path / "empty_torch_home") in out  # what to put where
    assert not (root / "models" / "model.pt").exists()


# --------------------------------------------------------------------------------------------------------------------
# config checks (no data, no training)
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bundle", ALL_BUNDLES)
def test_bundle_config_consistency(bundle, tmp_path):
    cfg = _configs(bundle)
    for name in ("metadata.json", "train.json", "evaluate.json", "inference.json", "logging.conf"):
        assert (cfg / name).is_file(), name
    assert (BUNDLES_DIR / bundle / "models").is_dir()
    parser = _parse(bundle, tmp_path)
    assert parser["bundle_name"] == bundle
    image_size = parser["image_size"]
    class_names = parser.get_parsed_content("class_names")

    # evaluation and inference must not get random transforms; training gets the augmentation
    assert random_transforms(parser.get_parsed_content("preprocessing")) == []
    augmentation = parser.get_parsed_content("train#augmentation")
    assert random_transforms(parser.get_parsed_content("train#preprocessing")) == [type(t).__name__ for t in augmentation]

    network = parser.get_parsed_content("network_def")
    assert network.backbone == parser["backbone"] and network.num_classes == len(class_names)
    with torch.no_grad():
        logits = network.eval()(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    assert logits.shape == (2, len(class_names))

    meta = json.loads((cfg / "metadata.json").read_text())
    inputs, outputs = meta["network_data_format"]["inputs"]["image"], meta["network_data_format"]["outputs"]["pred"]
    assert inputs["spatial_shape"] == [image_size, image_size] and inputs["num_channels"] == 3
    assert outputs["num_channels"] == len(class_names)
    # what the network (and so its TorchScript and ONNX exports) returns: logits, not rows of probabilities
    assert outputs["type"] == "logits" and outputs["value_range"] == [] and meta["pred_classes"].startswith("logits")
    assert not torch.allclose(logits.sum(dim=1), torch.ones(2))
    assert [outputs["channel_def"][str(i)] for i in range(len(class_names))] == class_names
    assert meta["monai_version"] and meta["version"] in meta["changelog"]



#: bundles whose configs are built from the templates and their recipe.json (see monai_tumorcls.bundle.build).
RECIPE_BUNDLES = sorted(p.parent.name for p in BUNDLES_DIR.glob("*/recipe.json"))


def test_committed_configs_are_what_templates_and_recipes_build():
    """The configs committed for the user's command are exactly what ``python -m monai_tumorcls.bundle build``
    writes: a template or a recipe edited without a rebuild, or a built config edited by hand, fails here."""
    assert RECIPE_BUNDLES == sorted(ALL_BUNDLES + ("resnet18_multisource", "resnet18_lesion"))
    assert check_bundles(BUNDLES_DIR) == []


@pytest.mark.parametrize("bundle", RECIPE_BUNDLES)
def test_recipe_names_only_what_it_changes(bundle):
    """A recipe entry that sets the template's own value (or removes an id the template lacks) is a defect: the
    recipe is the bundle's difference, and such an entry would hide a later change of the template."""
    recipe = json.loads((BUNDLES_DIR / bundle / "recipe.json").read_text())
    assert set(recipe) == {"train", "inference", "evaluate", "inference_onnx"}
    for name, section in recipe.items():
        assert restated_ids(name, section) == [], f"{bundle}/recipe.json[{name!r}]"


def test_resnet50_spp_binary_ablation_overrides(tmp_path):
    """The four published ablation settings (basic, +SPP, +TL, +SPP+TL) differ only in `head` and `pretrained`."""
    bundle = "resnet50_spp_binary"
    default = _parse(bundle, tmp_path)
    net = default.get_parsed_content("network_def")
    assert isinstance(net.head, SPPHead) and net.backbone == "resnet50"
    assert net.head.spp.levels == (1, 2, 4) and net.head.spp.pool_type == "max"
    assert net.head.fc.in_features == 2048 * 21 and net.head.fc.out_features == 2
    assert net.head.dropout.p == 0.5
    assert net.backbone_load_result.source is None  # default: random initialisation (no ImageNet file here)
    assert default["pretrained"] is None

    basic = _parse(bundle, tmp_path, head="linear", pretrained=None).get_parsed_content("network_def")
    assert isinstance(basic.head, LinearHead) and basic.head.fc.in_features == 2048
    assert basic.head.dropout.p == 0.5

    optimizer = default.get_parsed_content("optimizer")
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (1e-4, 0.9, 5e-4)
    assert (default["epochs"], default["batch_size"], default["image_size"]) == (25, 32, 224)
    names = [type(t).__name__ for t in default.get_parsed_content("train#augmentation")]
    assert names == ["RandFlipAxesd", "RandRotate90Choiced"]
    assert "ContrastStretchd" in [type(t).__name__ for t in default.get_parsed_content("preprocessing").transforms]


@pytest.mark.parametrize("backbone, layer3_blocks", [("resnet50", 6), ("resnet101", 23), ("resnet152", 36)])
def test_resnet50_4class_backbone_variants(backbone, layer3_blocks, tmp_path):
    parser = _parse("resnet50_4class", tmp_path, backbone=backbone)
    net = parser.get_parsed_content("network_def")
    assert net.backbone == backbone and net.out_channels == 2048
    assert len(net.features.layer3) == layer3_blocks
    assert isinstance(net.head, DenseHead)
    assert (net.head.fc1.in_features, net.head.fc1.out_features, net.head.fc2.out_features) == (2048, 128, 4)
    assert net.head.dropout1.p == net.head.dropout2.p == 0.2
    if backbone == "resnet50":
        assert (parser["epochs"], parser["batch_size"], parser["image_size"], parser["learning_rate"]) == (
            10, 32, 256, 1e-4
        )
        assert isinstance(parser.get_parsed_content("optimizer"), torch.optim.Adam)
        assert len(trainable_parameters(parser.get_parsed_content("network"))) == len(list(net.parameters()))
        names = [type(t).__name__ for t in parser.get_parsed_content("train#augmentation")]
        assert names == ["RandFlipAxesd", "RandAffined"]


@pytest.mark.parametrize(
    "bundle, stage2, stage1_lr, stage2_lr",
    [
        ("resnet18_4class", ("features.layer3.", "features.layer4.", "head."), 1e-3, 1e-4),
        ("resnet50_finetune_4class", ("features.layer4.", "head."), 1e-3, 1e-4),
    ],
)
def test_two_stage_freezing(bundle, stage2, stage1_lr, stage2_lr, tmp_path):
    """Stage 1 trains only the head (frozen trunk, cached features); stage 2 unfreezes the documented stages and
    its optimizer, created after unfreezing, holds exactly those parameters."""
    parser = _parse(bundle, tmp_path)
    network = parser.get_parsed_content("network")
    assert {n for n, p in network.named_parameters() if p.requires_grad} == {
        n for n, _ in network.named_parameters() if n.startswith("head.")
    }
    stage1_opt = parser.get_parsed_content("stage1#optimizer")
    assert isinstance(stage1_opt, torch.optim.Adam) and stage1_opt.param_groups[0]["lr"] == stage1_lr

    parser.get_parsed_content("stage2#unfreeze")
    trainable = {n for n, p in network.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in network.named_parameters() if n.startswith(stage2)}
    optimizer = parser.get_parsed_content("optimizer")
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == stage2_lr
    assert sum(p.numel() for p in optimizer.param_groups[0]["params"]) == sum(
        p.numel() for p in network.parameters() if p.requires_grad
    )
    assert isinstance(network.head, LinearHead)
    if bundle == "resnet50_finetune_4class":
        assert network.backbone == "resnet50" and network.head.dropout.p == 0.5
        assert parser["image_size"] == 224 and parser["early_stop_patience"] == 5
        # no random augmentation: stage 2 trains layer4 + head (shared with `network`) on cached layer3 maps
        front, rest = parser.get_parsed_content("stage2#split")
        assert list(dict(front.named_children()))[-1] == "layer3"
        assert list(dict(rest.named_children())) == ["layer4", "head"] and rest.layer4 is network.features.layer4
        assert "CachedFeatureDataset(@stage2::features)" in parser["train#dataloader#dataset"]


@pytest.mark.parametrize("bundle", SMOKE_BUNDLES)
def test_pretrained_imagenet_missing_raises(bundle, tmp_path, monkeypatch):
    """`pretrained: imagenet` without the file in the torch hub cache is an error naming the file, never a silent
    fallback to random initialisation."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    parser = _parse(bundle, tmp_path, pretrained="imagenet")
    with pytest.raises(Exception) as info:
        parser.get_parsed_content("network_def")
    chain, err = [], info.value
    while err is not None:
        chain.append(err)
        err = err.__cause__
    missing = [e for e in chain if isinstance(e, PretrainedWeightsNotFoundError)]
    assert missing, f"expected PretrainedWeightsNotFoundError in {chain!r}"
    message = str(missing[0])
    assert "not found, and nothing is downloaded" in message
    assert str(tmp_path / "empty_torch_home") in message


def test_finetune_stage2_cache_refuses_augmentation_unless_trained_on_images(tmp_path):
    """Pipeline 4's stage 2 trains on cached layer3 maps; random augmentation there is refused (never silently
    dropped), and the documented override trains stage 2 on images with it."""
    from monai.data import CacheDataset

    flip = [{"_target_": "RandFlipd", "keys": "image", "prob": 0.5, "spatial_axis": 1}]
    parser = _parse("resnet50_finetune_4class", tmp_path, max_per_class=2, image_size=32, **{"train#augmentation": flip})
    parser.get_parsed_content("stage2#unfreeze")
    with pytest.raises(Exception) as info:
        parser.get_parsed_content("train#dataloader")
    chain, err = [], info.value
    while err is not None:
        chain.append(str(err))
        err = err.__cause__
    assert any("random transforms ['RandFlipd']" in m for m in chain), chain
    parser = _parse("resnet50_finetune_4class", tmp_path, max_per_class=2, image_size=32,
                    **{"train#augmentation": flip, "train#dataloader#dataset": "@train#dataset",
                       "train#trainer#network": "@network"})
    parser.get_parsed_content("stage2#unfreeze")
    assert isinstance(parser.get_parsed_content("train#dataloader").dataset, CacheDataset)
    assert parser.get_parsed_content("train#trainer").network is parser.get_parsed_content("network")


@pytest.mark.parametrize("lesion_prob", [0.0, 0.5])
def test_clinical_adaptation_synthetic_lesion_option(lesion_prob, tmp_path):
    """adapt_clinical.json paints synthetic lesions into tumour-free training slices only when `lesion_prob` > 0
    (default 0: the measured default recipe); a painted item becomes `tumor`."""
    from monai.bundle import ConfigParser

    from monai_tumorcls.transforms import RandSyntheticLesiond

    cfg = BUNDLES_DIR / "resnet18_binary" / "configs"
    parser = ConfigParser()
    parser.read_config([str(cfg / "train.json"), str(cfg / "adapt_clinical.json")])
    assert parser["lesion_prob"] == 0.0
    parser["bundle_root"], parser["lesion_prob"] = str(tmp_path), lesion_prob
    parser.parse()
    (lesion,) = parser.get_parsed_content("adapt#lesion")
    assert isinstance(lesion, RandSyntheticLesiond)
    assert (lesion.lesion_label, lesion.eligible_labels, lesion.painter.prob) == (1, {0}, lesion_prob)
    yy, xx = torch.meshgrid(torch.arange(64) - 32, torch.arange(64) - 32, indexing="ij")
    texture = 0.5 + 0.2 * torch.rand(64, 64, generator=torch.Generator().manual_seed(0))
    head = (((yy**2 + xx**2) < 26**2).float() * texture)[None].repeat(3, 1, 1)
    lesion.set_random_state(0)
    outs = [lesion({"image": head, "label": 0}) for _ in range(20)]
    painted = [not torch.equal(torch.as_tensor(o["image"]), head) for o in outs]
    assert [o["label"] for o in outs] == [int(p) for p in painted]  # relabelled exactly when painted
    assert any(painted) == (lesion_prob > 0) and (lesion_prob == 0 or not all(painted))
    assert lesion({"image": head, "label": 1})["image"] is head  # tumour items are never painted
