"""ResNet classifier with a light U-Net-style lesion decoder on its trunk, trained jointly on class and lesion mask.

Why: a classifier trained on slice labels alone can separate tumour from tumour-free slices by anatomical level
(the multi-source model's Grad-CAM fell on the lesion in 2 % of held-out tumour slices); a pixel loss on the same trunk asks its features to
localise the lesion. The decoder is only a training aid and a lesion map: the plain ``forward`` is the classifier's,
so evaluation, inference, ONNX export and Grad-CAM (``features.layer4``) treat this network like
:class:`~monai_tumorcls.networks.nets.ResNetClassifier`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from monai.networks.blocks import Convolution
from monai.networks.nets.basic_unet import TwoConv

from .resnet_classifier import ResNetClassifier, ResNetFeatures

__all__ = ["LesionDecoder", "LesionClassifier", "trunk_stage_channels"]

#: trunk children run before the first skip (stride 2, after ReLU), then the stages giving the other skips.
_STEM = ("conv1", "bn1", "relu")
_STAGES = ("layer1", "layer2", "layer3", "layer4")


def trunk_stage_channels(features: ResNetFeatures) -> list[int]:
    """Channels of the stem (stride 2) and of ``layer1..layer4`` (strides 4..32) of a torchvision ResNet trunk."""
    channels = [features.conv1.out_channels]
    for name in _STAGES:
        last_block = getattr(features, name)[-1]
        channels.append(getattr(last_block, "conv3", last_block.conv2).out_channels)  # Bottleneck or BasicBlock
    return channels


class LesionDecoder(nn.Module):
    """U-Net-style decoder over a ResNet trunk's skips: from ``layer4`` up to the stem's stride 2, per level a
    bilinear upsampling to the skip's size (any input size: the trunk rounds odd sizes up), concatenation with the
    skip and MONAI's ``TwoConv`` (two 3x3 conv-BN-ReLU, as in ``BasicUNet``), then a 1x1 convolution to one lesion
    logit per pixel. With a fifth level, the input image itself is its skip: that level works at the input's
    resolution on its intensities, where the trunk's first skip has passed a 7x7 stride-2 convolution.

    Args:
        skip_channels: channels of the skips, finest first: the stem and ``layer1..layer4``
            (:func:`trunk_stage_channels`), with the input's channels in front for a fifth level.
        decoder_channels: output channels of the levels, deepest first: four (the map at stride 2) or five (the map
            at the input's resolution); one more skip than levels.
        lesion_prior: if set, the lesion probability every pixel starts at (the output bias starts at its logit; the
            prior-probability start of Lin et al. 2017): lesion pixels are about 1 % of the known pixels, and with a
            bias of 0 the map starts at 0.5 everywhere and spends its first epochs lowering the background (Adam
            moves a bias by about the learning rate per step). ``None``: the bias starts at 0.

    Shapes:
        ``skips`` (finest first ... layer4 at H/32) -> ``(B, 1, h, w)`` at the finest skip's size.
    """

    def __init__(self, skip_channels: Sequence[int], decoder_channels: Sequence[int] = (128, 64, 32, 16),
                 lesion_prior: float | None = None) -> None:
        super().__init__()
        if len(decoder_channels) not in (4, 5) or len(skip_channels) != len(decoder_channels) + 1:
            raise ValueError(f"expected 4 or 5 decoder channel counts and one skip more, got {skip_channels}, "
                             f"{decoder_channels}")
        levels, in_channels = [], skip_channels[-1]
        for cat_channels, out_channels in zip(reversed(skip_channels[:-1]), decoder_channels):
            levels.append(TwoConv(2, in_channels + cat_channels, out_channels, act="relu", norm="batch", bias=False))
            in_channels = out_channels
        self.levels = nn.ModuleList(levels)
        self.out = Convolution(2, in_channels, 1, kernel_size=1, conv_only=True)
        if lesion_prior is not None:
            if not 0.0 < lesion_prior < 1.0:
                raise ValueError(f"lesion_prior must be in (0, 1), got {lesion_prior}")
            nn.init.constant_(self.out.conv.bias, math.log(lesion_prior / (1.0 - lesion_prior)))

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        # indexing, not zip/reversed: TorchScript compiles every submodule of an exported classifier
        x = skips[-1]
        for i, level in enumerate(self.levels):
            skip = skips[-2 - i]
            x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
            x = level(torch.cat([skip, x], dim=1))
        return self.out(x)


class LesionClassifier(ResNetClassifier):
    """:class:`~monai_tumorcls.networks.nets.ResNetClassifier` (trunk ``features``, head ``head``, same pretrained
    loading and freezing) plus a :class:`LesionDecoder` (``decoder``) fed by the trunk's stages.

    Args:
        classifier_args, classifier_kwargs: the arguments of :class:`ResNetClassifier` (``backbone``,
            ``num_classes``, ``head``, ``pretrained``, ``in_channels``, ``head_options``; ``pretrained`` loads the
            trunk only: a torchvision/SimCLR trunk file or another bundle's ``model.pt``; the decoder starts random).
        decoder_channels: channels of the decoder levels, deepest first (keyword only): four (the map from stride 2)
            or five (a last level at the input's resolution with the input as its skip; see :class:`LesionDecoder`).
        lesion_prior: the lesion probability the map starts at (keyword only; see :class:`LesionDecoder`).

    Shapes:
        ``forward(x)``: ``(B, C, H, W) -> (B, num_classes)`` logits, the classifier alone (the decoder is not run);
        :meth:`forward_lesion`: ``(logits, lesion_logits)``, lesion logits ``(B, 1, H, W)`` at the input's size
        (sigmoid = lesion probability).
    """

    def __init__(self, *classifier_args, decoder_channels: Sequence[int] = (128, 64, 32, 16),
                 lesion_prior: float | None = None, **classifier_kwargs) -> None:
        super().__init__(*classifier_args, **classifier_kwargs)
        skip_channels = trunk_stage_channels(self.features)
        self.input_skip = len(decoder_channels) == 5
        if self.input_skip:
            skip_channels = [self.features.conv1.in_channels, *skip_channels]
        self.decoder = LesionDecoder(skip_channels, decoder_channels, lesion_prior)

    def _skips(self, x: torch.Tensor) -> list[torch.Tensor]:
        # the trunk's own modules, called one by one, so hooks on them (Grad-CAM on features.layer4) still fire
        skips = [x] if self.input_skip else []
        for name in _STEM:
            x = getattr(self.features, name)(x)
        skips.append(x)
        x = self.features.maxpool(x)
        for name in _STAGES:
            x = getattr(self.features, name)(x)
            skips.append(x)
        return skips

    # ``forward`` is ResNetClassifier's: class logits only, the decoder not run, so TorchScript, ONNX, Grad-CAM and
    # every classifier path see a plain classifier

    def forward_lesion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(class logits (B, num_classes), lesion logits (B, 1, H, W))``: the training output (through
        :class:`~monai_tumorcls.engines.LesionInferer`), and the lesion map at inference."""
        skips = self._skips(x)
        lesion = F.interpolate(self.decoder(skips), size=x.shape[2:], mode="bilinear", align_corners=False)
        return self.head(skips[-1]), lesion
