"""torchvision ResNet trunk + exchangeable classification head, for transfer learning on 2D MRI slices."""

from __future__ import annotations

from collections import OrderedDict
import torch
from torch import nn

from monai.utils import look_up_option, optional_import

from ...utils.deprecation import moved_keywords
from ..blocks.heads import HEADS, HeadOptions, build_head
from ..freezing import set_frozen_bn_eval
from ..pretrained import TRUNK_STAGES, BackboneLoadResult, PretrainedSource, load_backbone_weights

models, _ = optional_import("torchvision.models")

__all__ = ["ResNetFeatures", "ResNetClassifier", "RESNET_BACKBONES"]

#: supported torchvision backbones -> channels of their last feature map.
RESNET_BACKBONES: dict[str, int] = {
    "resnet18": 512,
    "resnet34": 512,
    "resnet50": 2048,
    "resnet101": 2048,
    "resnet152": 2048,
}


class ResNetFeatures(nn.Sequential):
    """
    The convolutional trunk of a torchvision ResNet (``conv1`` ... ``layer4``, without ``avgpool`` and ``fc``).

    Children keep torchvision's names (``conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4``), so
    torchvision state dicts load after dropping ``fc.*`` and stages can be frozen by name. Weights are randomly
    initialised the torchvision way; load pretrained weights with
    :py:func:`~monai_tumorcls.networks.pretrained.load_backbone_weights`.

    Args:
        arch: ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"resnet101"`` or ``"resnet152"``.
        in_channels: input channels. Defaults to 3; other values replace ``conv1`` with a conv of the same
            geometry (7x7, stride 2, no bias).

    Shapes:
        ``(B, in_channels, H, W) -> (B, out_channels, ceil(H / 32), ceil(W / 32))`` (for ``H, W`` multiples of 32,
        exactly ``H / 32, W / 32``), ``out_channels`` 512 for resnet18/34 and 2048 for resnet50/101/152.
    """

    def __init__(self, arch: str = "resnet18", in_channels: int = 3) -> None:
        arch = look_up_option(arch, tuple(RESNET_BACKBONES))
        if in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}.")
        net = getattr(models, arch)(weights=None)
        if in_channels != net.conv1.in_channels:
            conv = net.conv1
            net.conv1 = nn.Conv2d(
                in_channels,
                conv.out_channels,
                kernel_size=conv.kernel_size,
                stride=conv.stride,
                padding=conv.padding,
                bias=False,
            )
            nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")  # as torchvision
        super().__init__(OrderedDict((name, getattr(net, name)) for name in TRUNK_STAGES))
        self.arch = arch
        self.in_channels = in_channels
        self.out_channels: int = net.fc.in_features


class ResNetClassifier(nn.Module):
    """
    torchvision ResNet trunk (``self.features``) followed by a classification head (``self.head``).

    The head receives the trunk's spatial feature map and does its own pooling, so a frozen trunk can be run once
    (:py:meth:`forward_features`) and the head trained alone on cached ``(B, out_channels, h, w)`` maps.

    Args:
        backbone: ``"resnet18"`` (default), ``"resnet34"``, ``"resnet50"``, ``"resnet101"`` or ``"resnet152"``.
        num_classes: number of output logits. Defaults to 2.
        head: ``"linear"`` (GAP -> dropout -> linear), ``"dense"`` (GAP -> dropout -> linear(hidden) -> ReLU ->
            dropout -> linear), ``"spp"`` (spatial pyramid pooling -> dropout -> linear), or an ``nn.Module``
            mapping ``(B, out_channels, h, w)`` to ``(B, num_classes)``. See
            :py:mod:`monai_tumorcls.networks.blocks.heads`.
        pretrained: backbone weights: ``None`` (random initialisation, an explicit choice, logged at INFO),
            ``"imagenet"`` (torchvision's ImageNet file from the torch hub cache, never downloaded; also
            ``"imagenet1k_v1"``/``"imagenet1k_v2"``), or a path to a ``.pth``/``.pt``/``.safetensors`` file.
            See :py:func:`~monai_tumorcls.networks.pretrained.load_backbone_weights`.
        in_channels: input channels. Defaults to 3.
        head_options: the named head's ``dropout``, ``hidden_features`` (dense), ``spp_levels`` and ``spp_pool``
            (spp): :py:class:`~monai_tumorcls.networks.blocks.HeadOptions` (default: each head's defaults).
        old_keywords: ``dropout``, ``hidden_features``, ``spp_levels``, ``spp_pool``: deprecated spellings of
            ``head_options`` (a ``FutureWarning``; they go in the next release).

    Attributes:
        backbone: the architecture name.
        out_channels: channels of the trunk's feature map (512 for resnet18/34, 2048 for resnet50/101/152).
        backbone_load_result: what was loaded into the trunk (:py:class:`BackboneLoadResult`).

    Shapes:
        ``forward``: ``(B, in_channels, H, W) -> (B, num_classes)``;
        ``forward_features``: ``(B, in_channels, H, W) -> (B, out_channels, ceil(H / 32), ceil(W / 32))``.

    Example::

        net = ResNetClassifier("resnet50", num_classes=4, head="dense", pretrained="imagenet",
                               head_options=HeadOptions(dropout=0.2))
        set_trainable(net, "layer4+head")
        logits = net(torch.randn(8, 3, 224, 224))  # (8, 4)

    """

    def __init__(self, backbone: str = "resnet18", num_classes: int = 2, head: str | nn.Module = "linear",
                 pretrained: PretrainedSource = None, in_channels: int = 3, head_options: HeadOptions | None = None,
                 **old_keywords) -> None:
        head_options = moved_keywords(type(self).__name__, head_options, HeadOptions, old_keywords)
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}.")
        self.features = ResNetFeatures(backbone, in_channels=in_channels)
        self.backbone: str = self.features.arch
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.out_channels: int = self.features.out_channels

        if isinstance(head, nn.Module):
            self.head = head
        else:
            head_name = look_up_option(head, tuple(HEADS))
            self.head = build_head(head_name, self.out_channels, num_classes, **head_options.head_kwargs(head_name))

        self.backbone_load_result: BackboneLoadResult = load_backbone_weights(self.features, pretrained, self.backbone)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: images, shape ``(B, in_channels, H, W)``.

        Returns:
            trunk feature map, shape ``(B, out_channels, h, w)``.
        """
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: images, shape ``(B, in_channels, H, W)``.

        Returns:
            logits, shape ``(B, num_classes)``.
        """
        return self.head(self.features(x))

    def train(self, mode: bool = True) -> ResNetClassifier:
        """Set training mode; BatchNorm layers frozen by :py:func:`~monai_tumorcls.networks.freezing.set_trainable`
        (``freeze_bn=True``) stay in eval mode."""
        super().train(mode)
        if mode:
            set_frozen_bn_eval(self)
        return self
