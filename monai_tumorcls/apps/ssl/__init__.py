"""Self-supervised in-domain pretraining of ResNet trunks (SimCLR) on unlabelled Training slices.

The pretrained trunk is saved in torchvision's key layout and loads into every classification bundle through
the same ``pretrained`` option as ImageNet weights (see ``bundles/ssl_simclr_resnet18``).
"""

from .datalist import assert_training_only, unlabelled_datalist
from .engine import SimCLRIteration
from .losses import NTXentLoss
from .networks import ProjectionHead, SimCLRNet
from .transforms import TwoViews, TwoViewsd, TwoViewsD, TwoViewsDict

__all__ = [
    "NTXentLoss",
    "ProjectionHead",
    "SimCLRIteration",
    "SimCLRNet",
    "TwoViews",
    "TwoViewsD",
    "TwoViewsDict",
    "TwoViewsd",
    "assert_training_only",
    "unlabelled_datalist",
]
