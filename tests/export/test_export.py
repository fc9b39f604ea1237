"""Export: every bundle's network scripts and exports as TorchScript with its description, the ONNX file describes
itself (class names, image size, preprocessing, temperature, checkpoint SHA-256) and runs alone in a bundle's
``inference_onnx.json``, and TorchScript / ONNX Runtime outputs equal PyTorch's on real Testing images."""

from __future__ import annotations

import hashlib
import json

import onnx
import pytest
import torch
from PIL import Image
from monai.bundle import ckpt_export
from monai.data import load_net_with_metadata

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.checkpoint import describe_transforms, save_checkpoint
from monai_tumorcls.export import (
    TORCHSCRIPT_FILE,
    OnnxRuntimeNetwork,
    described_checkpoint_meta,
    export_onnx,
    export_torchscript,
    refuse_saliency,
)
from monai_tumorcls.export.description import decode_metadata_props
from monai_tumorcls.networks import ResNetClassifier

from ..bundles.helpers import PROJECT_ROOT, check, run_bundle

BUNDLES = PROJECT_ROOT / "bundles"
#: the supervised bundles (an inference config): exported with ``python -m monai_tumorcls.export torchscript``
SUPERVISED = sorted(b.name for b in BUNDLES.iterdir() if (b / "configs" / "inference.json").is_file())
#: one bundle per head (linear, dense, spp), on a ResNet18 trunk at 64 px to keep the runs short.
HEAD_BUNDLES = ("resnet18_binary", "resnet50_4class", "resnet50_spp_binary")
SMALL = {"backbone": "resnet18", "image_size": 64}
TOLERANCE = 1e-4
VALIDATION = {"trained_on": ["kaggle"], "volumes_validated": False, "summary": "synthetic record",
              "held_out": {"auc": 0.5}, "source": "docs/reports/external_validation.md"}


@pytest.mark.parametrize("head", ["linear", "dense", "spp"])
def test_network_scripts_like_eager(head):
    net = ResNetClassifier("resnet18", num_classes=3, head=head).eval()
    x = torch.randn(2, 3, 70, 50)  # feature map 3x2: SPP bins of level 2 and 4 overlap
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(net)(x), net(x), atol=1e-5, rtol=0)


def _trained_like(bundle: str, tmp_path, temperature: float | None = None, **overrides) -> tuple:
    """The bundle's network with non-trivial BatchNorm statistics, saved as training saves it when ``temperature``
    is given (metadata with that temperature and a validation record, sealed by its digest), else as a plain
    state dict."""
    parser = load_bundle_config(BUNDLES / bundle, "train.json", {"bundle_root": str(tmp_path), **overrides})
    net = parser.get_parsed_content("network_def")
    with torch.no_grad():
        net.train()(torch.randn(4, 3, 64, 64) * 2 + 0.5)  # running stats away from their (0, 1) init
    ckpt = tmp_path / "model.pt"
    if temperature is None:
        torch.save(net.state_dict(), ckpt)
        return net.eval(), parser, ckpt
    metadata = {"bundle": bundle, "class_names": parser.get_parsed_content("class_names"), "options": overrides,
                "preprocessing": describe_transforms(parser.get_parsed_content("prepare")
                                                     + parser.get_parsed_content("normalise")),
                "temperature": temperature, "validation": VALIDATION}
    save_checkpoint(ckpt, {"model": net.state_dict()}, metadata)
    return net.eval(), parser, ckpt


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("bundle", SUPERVISED)
def test_torchscript_export_of_every_bundle_describes_itself(bundle, tmp_path):
    assert f"python -m monai_tumorcls.export torchscript --bundle_root bundles/{bundle}" in (
        BUNDLES / bundle / "docs" / "README.md").read_text()
    net, parser, ckpt = _trained_like(bundle, tmp_path, temperature=1.5, image_size=64)
    ts = export_torchscript(BUNDLES / bundle, tmp_path / "model.ts", ckpt)  # the image size: from the checkpoint
    scripted, metadata, extra = load_net_with_metadata(str(ts), more_extra_files=(TORCHSCRIPT_FILE, "train.json"))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x), atol=TOLERANCE, rtol=0)
    assert metadata["version"] == json.loads((BUNDLES / bundle / "configs" / "metadata.json").read_text())["version"]
    assert json.loads(extra["train.json"])["bundle_name"] == bundle
    description = json.loads(extra[TORCHSCRIPT_FILE])
    assert description["checkpoint_sha256"] == _sha256(ckpt) and description["bundle"]["name"] == bundle
    assert (description["image_size"], description["temperature"], description["output"]) == (64, 1.5, "logits")
    assert description["class_names"] == parser.get_parsed_content("class_names")
    assert description["preprocessing"] == describe_transforms(parser.get_parsed_content("prepare")
                                                               + parser.get_parsed_content("normalise"))


def test_ckpt_export_of_the_self_supervised_trunk(tmp_path):
    """The SimCLR trunk has no classifier (nothing to describe): MONAI's ckpt_export, as its README gives it."""
    bundle, cfg = "ssl_simclr_resnet18", BUNDLES / "ssl_simclr_resnet18" / "configs"
    assert "ckpt_export backbone_def " in (BUNDLES / bundle / "docs" / "README.md").read_text()
    parser = load_bundle_config(BUNDLES / bundle, "train.json", {"bundle_root": str(tmp_path)})
    net = parser.get_parsed_content("backbone_def").eval()
    torch.save({"backbone": net.state_dict(), "metadata": {"options": {}}}, tmp_path / "model.pt")  # as training does
    ts = tmp_path / "model.ts"
    ckpt_export(net_id="backbone_def", filepath=str(ts), ckpt_file=str(tmp_path / "model.pt"), key_in_ckpt="backbone",
                meta_file=str(cfg / "metadata.json"), config_file=str(cfg / "train.json"), bundle_root=str(tmp_path))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(ts))(x), net(x), atol=TOLERANCE, rtol=0)


@pytest.fixture(scope="module")
def described_onnx(tmp_path_factory):
    """resnet18_binary at 32 px, exported to ONNX from a checkpoint with temperature 1.7 and a validation record."""
    tmp = tmp_path_factory.mktemp("described_onnx")
    net, parser, ckpt = _trained_like("resnet18_binary", tmp, temperature=1.7, image_size=32)
    return export_onnx(BUNDLES / "resnet18_binary", tmp / "model.onnx", ckpt), ckpt, parser


def test_onnx_metadata_props_describe_the_model(described_onnx):
    onnx_file, ckpt, parser = described_onnx
    props = {p.key: json.loads(p.value) for p in onnx.load(str(onnx_file)).metadata_props}
    assert props["checkpoint_sha256"] == _sha256(ckpt)
    assert props["bundle"]["name"] == "resnet18_binary" and props["created"].endswith("Z")
    assert (props["class_names"], props["image_size"], props["temperature"]) == (["notumor", "tumor"], 32, 1.7)
    assert (props["output"], props["activation"], props["validation"]) == ("logits", "softmax", VALIDATION)
    assert props["preprocessing"] == describe_transforms(parser.get_parsed_content("prepare")
                                                         + parser.get_parsed_content("normalise"))
    assert props["train_options"] == {"image_size": 32}
    assert OnnxRuntimeNetwork(onnx_file).description == props  # read back by ONNX Runtime alone


def test_onnx_description_stands_in_for_the_checkpoint(described_onnx, tmp_path):
    onnx_file, ckpt, _ = described_onnx
    network = OnnxRuntimeNetwork(onnx_file)
    meta = described_checkpoint_meta(network.description, tmp_path / "no_model.pt")
    assert meta["options"] == {"image_size": 32} and meta["temperature"] == 1.7 and meta["validation"] == VALIDATION
    network.check_image_size(32)
    with pytest.raises(ValueError, match=f"{onnx_file}: the ONNX graph takes 32x32 images.*224x224"):
        network.check_image_size(224)
    assert described_checkpoint_meta({}, ckpt)["temperature"] == 1.7  # no description: the checkpoint beside it
    with pytest.raises(ValueError, match="no description .* no checkpoint"):
        described_checkpoint_meta({}, tmp_path / "no_model.pt")
    with pytest.raises(ValueError, match="lacks \\['preprocessing'\\]"):
        described_checkpoint_meta({k: v for k, v in network.description.items() if k != "preprocessing"}, ckpt)
    hostile = {**network.description, "train_options": {"image_size": 32, "run": "$print(1)"}}
    with pytest.raises(ValueError, match="options.run"):  # the checkpoint schema applies to what a file says
        described_checkpoint_meta(hostile, ckpt)
    with pytest.raises(ValueError, match="x.onnx: metadata_props 'checkpoint_sha256' is not a SHA-256"):
        decode_metadata_props({"checkpoint_sha256": json.dumps("=cmd|' /C calc'!A0")}, "x.onnx")  # outputs repeat it
    with pytest.raises(ValueError, match="x.onnx: metadata_props 'image_size' is not JSON"):
        decode_metadata_props({"image_size": "{"}, "x.onnx")


@pytest.fixture(scope="module")
def testing_images(kaggle_root):
    """Four real Testing images (one per class)."""
    return [min((kaggle_root / "Testing" / cls).iterdir()) for cls in ("glioma", "meningioma", "notumor", "pituitary")]


@pytest.mark.integration
@pytest.mark.parametrize("bundle", HEAD_BUNDLES)
def test_torchscript_and_onnx_match_pytorch_on_real_images(bundle, tmp_path, testing_images):
    net, parser, ckpt = _trained_like(bundle, tmp_path, **SMALL)
    preprocessing = parser.get_parsed_content("preprocessing")
    images = torch.stack([preprocessing({"image": str(p)})["image"] for p in testing_images])
    with torch.no_grad():
        expected = net(images)
        scripted = torch.jit.script(net)(images)
    onnx_file = export_onnx(BUNDLES / bundle, tmp_path / "model.onnx", ckpt, **SMALL)
    onnx_logits = OnnxRuntimeNetwork(onnx_file)(images)
    assert (scripted - expected).abs().max() < TOLERANCE
    assert (onnx_logits - expected).abs().max() < TOLERANCE
    assert expected.std() > 1e-3  # the outputs compared are not all alike


@pytest.mark.integration
def test_onnx_inference_runs_from_the_onnx_file_alone(tmp_path, testing_images):
    """inference.json + inference_onnx.json (ONNX Runtime) on real images, with no model.pt and no train_overrides:
    the image size, class names, preprocessing and temperature come from the .onnx file, and the predictions are
    PyTorch's softmax(logits / temperature), traced to the checkpoint the file was exported from."""
    bundle, cfg = "resnet18_binary", "bundles/resnet18_binary/configs"
    root = tmp_path / "bundle"
    (root / "models").mkdir(parents=True)
    net, parser, ckpt = _trained_like(bundle, root / "models", temperature=2.0, image_size=64)
    export_onnx(BUNDLES / bundle, root / "models" / "model.onnx", ckpt)
    sha = _sha256(ckpt)
    ckpt.unlink()
    assert [p.name for p in (root / "models").iterdir()] == ["model.onnx"]  # one self-contained file
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for p in testing_images:
        (inputs / p.name).write_bytes(p.read_bytes())
    check(run_bundle([f"{cfg}/inference.json", f"{cfg}/inference_onnx.json"], bundle_root=str(root),
                     input_dir=str(inputs)))
    table = json.loads((root / "outputs" / "predictions.json").read_text())
    rows = table["rows"]  # sorted by file name
    assert [r["status"] for r in rows] == ["ok"] * len(testing_images)
    assert table["provenance"]["checkpoint_sha256"] == sha and table["provenance"]["bundle"]["name"] == bundle
    preprocessing = parser.get_parsed_content("preprocessing")
    images = torch.stack([preprocessing({"image": str(inputs / r["file"])})["image"] for r in rows])
    with torch.no_grad():
        expected = (net(images) / 2.0).softmax(1)
    assert (torch.tensor([list(r["probabilities"].values()) for r in rows]) - expected).abs().max() < TOLERANCE


def test_onnx_inference_without_what_it_needs_ends_with_one_line(described_onnx, tmp_path):
    """An .onnx file without a description and no model.pt, or one whose graph takes another image size than the
    preprocessing makes: exit status 3 and one line naming the file (not an ONNX Runtime traceback)."""
    cfg = "bundles/resnet18_binary/configs"
    onnx_file, _, _ = described_onnx
    model = onnx.load(str(onnx_file))
    del model.metadata_props[:]  # a file without a description
    root = tmp_path / "bundle"
    (root / "models").mkdir(parents=True)
    onnx.save(model, str(root / "models" / "model.onnx"))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    torch.manual_seed(0)
    Image.fromarray((torch.rand(40, 40) * 255).byte().numpy()).save(inputs / "scan.png")
    onnx_run = [f"{cfg}/inference.json", f"{cfg}/inference_onnx.json"]
    proc = run_bundle(onnx_run, bundle_root=str(root), input_dir=str(inputs))
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line or "Traceback" in line]
    assert proc.returncode == 3 and len(errors) == 1, proc.stdout + proc.stderr
    assert f"{root / 'models' / 'model.onnx'}: the model holds no description" in errors[0]
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), root / "models" / "model.pt")  # no metadata
    proc = run_bundle(onnx_run, bundle_root=str(root), input_dir=str(inputs))
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line or "Traceback" in line]
    assert proc.returncode == 3 and len(errors) == 1, proc.stdout + proc.stderr
    assert "model.onnx: the ONNX graph takes 32x32 images, the preprocessing makes 224x224" in errors[0]


def test_onnx_overlays_are_one_file_and_refuse_what_onnx_cannot_do(tmp_path):
    overlays = {b: (BUNDLES / b / "configs" / "inference_onnx.json").read_text() for b in SUPERVISED}
    assert len(set(overlays.values())) == 1, "the inference_onnx.json overlays differ"
    with pytest.raises(ValueError, match="saliency"):
        refuse_saliency(True)
    refuse_saliency(False)
    with pytest.raises(FileNotFoundError, match="monai_tumorcls.export onnx"):
        OnnxRuntimeNetwork(tmp_path / "missing.onnx")
