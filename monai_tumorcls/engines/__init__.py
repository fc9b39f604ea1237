"""Training helpers around MONAI engines: frozen-trunk feature caching."""

from .feature_cache import (
    CachedFeatureDataset,
    CachedFeatures,
    FeatureCacheOptions,
    assert_frozen,
    cache_features,
    random_transforms,
    split_frozen_trunk,
)

__all__ = [
    "CachedFeatureDataset",
    "CachedFeatures",
    "FeatureCacheOptions",
    "assert_frozen",
    "cache_features",
    "random_transforms",
    "split_frozen_trunk",
]
