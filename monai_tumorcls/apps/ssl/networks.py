"""SimCLR network: a ResNet trunk (the part that is kept) followed by a projection head (discarded after
pretraining)."""

from __future__ import annotations

import torch
from torch import nn

from monai_tumorcls.networks import ResNetFeatures, load_backbone_weights
from monai_tumorcls.networks.pretrained import PretrainedSource

__all__ = ["ProjectionHead", "SimCLRNet"]


class ProjectionHead(nn.Module):
    """Global average pooling and the SimCLR MLP: ``Linear -> BatchNorm1d -> ReLU -> Linear``.

    Args:
        in_channels: channels of the trunk's feature map.
        hidden_features: width of the hidden layer.
        out_features: dimension of the embedding the contrastive loss sees.

    Shapes:
        ``(B, in_channels, h, w)`` or ``(B, in_channels)`` -> ``(B, out_features)``.
    """

    def __init__(self, in_channels: int, hidden_features: int = 512, out_features: int = 128) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden_features, bias=False),
            nn.BatchNorm1d(hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = self.pool(x).flatten(1)
        return self.mlp(x)


class SimCLRNet(nn.Module):
    """ResNet trunk (``self.features``, a :class:`~monai_tumorcls.networks.ResNetFeatures` with torchvision's
    child names) and SimCLR projection head (``self.projector``).

    After pretraining, ``self.features.state_dict()`` is a torchvision-layout trunk state dict
    (``conv1.weight``, ``layer1.0.bn1.running_mean``, ...) that
    :func:`~monai_tumorcls.networks.load_backbone_weights` (hence ``ResNetClassifier(pretrained=<file>)``)
    loads with every trunk key matched.

    Args:
        backbone: ``"resnet18"`` (default), ``"resnet34"``, ``"resnet50"``, ``"resnet101"`` or ``"resnet152"``.
        projection_dim: embedding dimension.
        hidden_dim: hidden width of the projection MLP.
        in_channels: input channels.
        pretrained: initial trunk weights (``None``: random; see
            :func:`~monai_tumorcls.networks.load_backbone_weights`), e.g. to continue a previous pretraining.

    Shapes:
        ``(B, in_channels, H, W) -> (B, projection_dim)``.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        projection_dim: int = 128,
        hidden_dim: int = 512,
        in_channels: int = 3,
        pretrained: PretrainedSource = None,
    ) -> None:
        super().__init__()
        self.features = ResNetFeatures(backbone, in_channels=in_channels)
        self.backbone = self.features.arch
        self.out_channels = self.features.out_channels
        self.projector = ProjectionHead(self.out_channels, hidden_dim, projection_dim)
        self.backbone_load_result = load_backbone_weights(self.features, pretrained, self.backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.features(x))
