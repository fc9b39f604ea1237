"""LesionClassifier: the classifier's forward, plus (logits, lesion logits) on demand; the trunk loads as usual."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from monai_tumorcls.networks import LesionClassifier, ResNetClassifier, trunk_stage_channels
from monai_tumorcls.visualize.saliency import grad_cam


@pytest.mark.parametrize("backbone, size", [("resnet18", 64), ("resnet18", 48), ("resnet50", 32)])
def test_shapes_and_plain_forward_is_the_classifier(backbone, size):
    torch.manual_seed(0)
    net = LesionClassifier(backbone, num_classes=3).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        logits, lesion = net.forward_lesion(x)
        plain = net(x)
    assert logits.shape == (2, 3) and lesion.shape == (2, 1, size, size)
    assert torch.equal(plain, logits)
    assert torch.equal(net.forward_lesion(x)[1].detach(), lesion)


def test_stage_channels_follow_the_block_type():
    assert trunk_stage_channels(LesionClassifier("resnet18").features) == [64, 64, 128, 256, 512]
    assert trunk_stage_channels(LesionClassifier("resnet50").features) == [64, 256, 512, 1024, 2048]


def test_lesion_logits_depend_on_the_decoder_plain_forward_does_not():
    torch.manual_seed(0)
    net = LesionClassifier().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before_logits, before_lesion = net.forward_lesion(x)
        for p in net.decoder.parameters():
            p.add_(0.5)
        after_logits, after_lesion = net.forward_lesion(x)
    assert torch.equal(before_logits, after_logits)
    assert not torch.allclose(before_lesion, after_lesion)


def test_torchvision_state_dict_loads_into_the_trunk(tmp_path):
    torch.manual_seed(1)
    tv = torchvision.models.resnet18(weights=None)
    path = tmp_path / "trunk.pth"
    torch.save(tv.state_dict(), path)
    net = LesionClassifier("resnet18", pretrained=str(path))
    result = net.backbone_load_result
    assert result.missing == [] and result.unexpected == [] and set(result.dropped) == {"fc.weight", "fc.bias"}
    assert torch.equal(net.features.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)
    assert torch.equal(net.features.bn1.running_var, tv.bn1.running_var)


def test_a_classifier_checkpoint_loads_as_trunk_and_the_trunk_keys_match():
    """A Kaggle-only model (ResNetClassifier state dict) initialises the trunk; its head is not taken."""
    torch.manual_seed(2)
    source = ResNetClassifier("resnet18")
    net = LesionClassifier("resnet18", pretrained=source.state_dict())
    assert torch.equal(net.features.conv1.weight, source.features.conv1.weight)
    assert set(net.backbone_load_result.dropped) == {"head.fc.weight", "head.fc.bias"}
    assert {k for k in net.state_dict() if not k.startswith("decoder.")} == set(source.state_dict())


def test_grad_cam_on_the_trunk_still_works():
    torch.manual_seed(0)
    net = LesionClassifier().eval()
    cam = grad_cam(net, torch.randn(2, 3, 64, 64), None)
    assert cam.shape[0] == 2 and cam.shape[-2:] == (64, 64) and bool(np.isfinite(cam).all())


def test_onnx_export_of_the_plain_forward(tmp_path):
    """The exported graph is the classifier's (class logits only), as for every bundle's ONNX path."""
    pytest.importorskip("onnxruntime")
    from monai.networks import convert_to_onnx

    from monai_tumorcls.export import OnnxRuntimeNetwork

    torch.manual_seed(0)
    net = LesionClassifier().eval()
    path = tmp_path / "model.onnx"
    x = torch.randn(2, 3, 64, 64)
    convert_to_onnx(net, [x], input_names=["image"], output_names=["logits"], filename=str(path), verify=True,
                    device=torch.device("cpu"), use_ort=True, atol=1e-4)
    with torch.no_grad():
        assert torch.allclose(OnnxRuntimeNetwork(str(path))(x), net(x), atol=1e-4)


def test_the_lesion_map_can_start_at_a_prior_probability():
    torch.manual_seed(0)
    net = LesionClassifier(decoder_channels=(16, 8, 8, 8), lesion_prior=0.01).eval()
    with torch.no_grad():
        lesion = net.forward_lesion(torch.randn(2, 3, 64, 64))[1].sigmoid()
    assert 0.003 < float(lesion.median()) < 0.03  # about the prior everywhere; bias 0 starts near 0.5
    with pytest.raises(ValueError, match="lesion_prior must be in"):
        LesionClassifier(decoder_channels=(16, 8, 8, 8), lesion_prior=1.0)


def test_a_fifth_level_works_at_the_input_resolution_on_the_input_itself():
    torch.manual_seed(0)
    net = LesionClassifier(decoder_channels=(16, 8, 8, 8, 8)).eval()
    seen = {}
    net.decoder.levels[-1].register_forward_hook(lambda m, args, out: seen.update(input=args[0], output=out))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        lesion = net.forward_lesion(x)[1]
    assert lesion.shape == (1, 1, 64, 64) and seen["output"].shape[-2:] == (64, 64)  # no upsampling after it
    assert torch.equal(seen["input"][:, :3], x)  # the input itself is its skip
    assert LesionClassifier().decoder.levels[-1].conv_0.conv.in_channels == 64 + 32  # four levels: the stem's skip
    with pytest.raises(ValueError, match="4 or 5 decoder channel counts"):
        LesionClassifier(decoder_channels=(16, 8, 8))
