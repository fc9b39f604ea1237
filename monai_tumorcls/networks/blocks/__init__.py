from .heads import HEADS, DenseHead, HeadOptions, LinearHead, SPPHead, build_head
from .spp import SPP_POOL_TYPES, SpatialPyramidPooling

__all__ = ["HEADS", "DenseHead", "HeadOptions", "LinearHead", "SPPHead", "build_head", "SPP_POOL_TYPES", "SpatialPyramidPooling"]
