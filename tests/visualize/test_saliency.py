"""Grad-CAM through monai.visualize: a model whose decision depends on one known region lights that region."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from monai_tumorcls.visualize import grad_cam, overlay_png, pointing_hits, saliency_peaks


class RegionFeatures(torch.nn.Module):
    """Two feature channels: the image inside a fixed square, and the image outside it."""

    def __init__(self, size: int, box: tuple[int, int, int, int]):
        super().__init__()
        inside = torch.zeros(1, 1, size, size)
        r0, r1, c0, c1 = box
        inside[..., r0:r1, c0:c1] = 1
        self.register_buffer("inside", inside)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        grey = x.mean(dim=1, keepdim=True) * self.scale
        return torch.cat([grey * self.inside, grey * (1 - self.inside)], dim=1)


class RegionModel(torch.nn.Module):
    """Logit 1 = mean of the inside channel; logit 0 = mean of the outside channel."""

    def __init__(self, size=32, box=(20, 28, 4, 12)):
        super().__init__()
        self.features = RegionFeatures(size, box)

    def forward(self, x):
        f = self.features(x)
        return torch.stack([f[:, 1].mean(dim=(1, 2)), f[:, 0].mean(dim=(1, 2))], dim=1)


def test_grad_cam_lights_the_region_the_decision_depends_on():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 32, 32) + 0.1
    maps = grad_cam(RegionModel(), images, class_index=1, target_layer="features")
    assert maps.shape == (4, 32, 32) and maps.max() <= 1.0 + 1e-6
    peaks = saliency_peaks(maps)
    assert ((peaks[:, 0] >= 20) & (peaks[:, 0] < 28) & (peaks[:, 1] >= 4) & (peaks[:, 1] < 12)).all(), peaks
    inside = maps[:, 20:28, 4:12].mean()
    outside = maps.copy()
    outside[:, 20:28, 4:12] = np.nan
    assert inside > 5 * np.nanmean(outside)
    masks = np.zeros((4, 32, 32))
    masks[:, 20:28, 4:12] = 1
    assert pointing_hits(peaks, masks, tolerance=0).all()
    wrong = np.zeros((4, 32, 32))
    wrong[:, 0:8, 20:28] = 1
    assert not pointing_hits(peaks, wrong, tolerance=2).any()


def test_pointing_game_tolerance():
    mask = np.zeros((1, 10, 10))
    mask[0, 4:6, 4:6] = 1
    assert not pointing_hits(np.array([[4, 7]]), mask, tolerance=1)[0]
    assert pointing_hits(np.array([[4, 7]]), mask, tolerance=2)[0]
    assert pointing_hits(np.array([[4, 5]]), mask, tolerance=0)[0]


def test_overlay_png_is_an_rgb_image_of_the_input_size():
    img = np.random.default_rng(0).random((20, 30))
    sal = np.zeros((20, 30))
    sal[5, 7] = 1
    png = Image.open(io.BytesIO(overlay_png(img, sal)))
    assert png.size == (30, 20) and png.mode == "RGB"
    assert np.asarray(png)[5, 7].tolist() == [0, 255, 255]  # the peak's cross


@pytest.mark.parametrize("head", ["linear", "dense", "spp"])
def test_grad_cam_on_every_head_of_the_classifier(head):
    from monai_tumorcls.networks import ResNetClassifier

    torch.manual_seed(0)
    net = ResNetClassifier("resnet18", num_classes=4, head=head)
    images = torch.rand(2, 3, 64, 64)
    maps = grad_cam(net, images, None)  # each image's predicted class, on features.layer4
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6 and maps.max() > 0


def test_grey_png_is_the_min_max_scaled_image():
    import io

    from PIL import Image

    from monai_tumorcls.visualize import grey_png

    image = np.array([[-2.0, 0.0], [1.0, 2.0]])
    shown = np.asarray(Image.open(io.BytesIO(grey_png(image))))
    assert shown.dtype == np.uint8 and shown.tolist() == [[0, 128], [191, 255]]
    assert np.asarray(Image.open(io.BytesIO(grey_png(np.full((3, 3), 7.0))))).max() == 0  # constant: black
