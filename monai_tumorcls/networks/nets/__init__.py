from .lesion_classifier import LesionClassifier, LesionDecoder, trunk_stage_channels
from .resnet_classifier import RESNET_BACKBONES, ResNetClassifier, ResNetFeatures

__all__ = ["LesionClassifier", "LesionDecoder", "RESNET_BACKBONES", "ResNetClassifier", "ResNetFeatures", "trunk_stage_channels"]
