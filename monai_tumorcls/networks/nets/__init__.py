from .resnet_classifier import RESNET_BACKBONES, ResNetClassifier, ResNetFeatures

__all__ = ["RESNET_BACKBONES", "ResNetClassifier", "ResNetFeatures"]
