"""Training helpers around MONAI engines: frozen-trunk feature caching, lesion-grounded training."""

from .feature_cache import (
    CachedFeatureDataset,
    CachedFeatures,
    FeatureCacheOptions,
    assert_frozen,
    cache_features,
    random_transforms,
    split_frozen_trunk,
)
from .lesion import LESION_TARGET_KEYS, LesionDiceHandler, LesionInferer, LesionOutputHandler, LesionPrepareBatch

__all__ = [
    "CachedFeatureDataset",
    "CachedFeatures",
    "FeatureCacheOptions",
    "LESION_TARGET_KEYS",
    "LesionDiceHandler",
    "LesionInferer",
    "LesionOutputHandler",
    "LesionPrepareBatch",
    "assert_frozen",
    "cache_features",
    "random_transforms",
    "split_frozen_trunk",
]
