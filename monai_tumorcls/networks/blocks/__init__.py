from .heads import HEADS, DenseHead, LinearHead, SPPHead, build_head
from .spp import SPP_POOL_TYPES, SpatialPyramidPooling

__all__ = ["HEADS", "DenseHead", "LinearHead", "SPPHead", "build_head", "SPP_POOL_TYPES", "SpatialPyramidPooling"]
