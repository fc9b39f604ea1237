"""Networks: ResNet trunks with exchangeable heads, backbone weights loading and freezing policies."""

from .blocks import HEADS, SPP_POOL_TYPES, DenseHead, HeadOptions, LinearHead, SpatialPyramidPooling, SPPHead, build_head
from .freezing import (
    POLICY_STAGES,
    ParameterCount,
    count_parameters,
    freeze_backbone,
    frozen_bn_modules,
    parameter_summary,
    parse_trainable_policy,
    set_frozen_bn_eval,
    set_trainable,
    trainable_parameters,
)
from .nets import RESNET_BACKBONES, LesionClassifier, LesionDecoder, ResNetClassifier, ResNetFeatures, trunk_stage_channels
from .precision import cpu_autocast
from .pretrained import (
    BackboneLoadResult,
    PretrainedWeightsNotFoundError,
    find_imagenet_weights,
    get_trunk,
    imagenet_weight_files,
    load_backbone_weights,
    read_state_dict,
)

__all__ = [
    # heads and blocks
    "HEADS",
    "SPP_POOL_TYPES",
    "DenseHead",
    "HeadOptions",
    "LinearHead",
    "SPPHead",
    "SpatialPyramidPooling",
    "build_head",
    # nets
    "RESNET_BACKBONES",
    "LesionClassifier",
    "LesionDecoder",
    "ResNetClassifier",
    "ResNetFeatures",
    "trunk_stage_channels",
    # precision
    "cpu_autocast",
    # pretrained weights
    "BackboneLoadResult",
    "PretrainedWeightsNotFoundError",
    "find_imagenet_weights",
    "get_trunk",
    "imagenet_weight_files",
    "load_backbone_weights",
    "read_state_dict",
    # freezing
    "POLICY_STAGES",
    "ParameterCount",
    "count_parameters",
    "freeze_backbone",
    "frozen_bn_modules",
    "parameter_summary",
    "parse_trainable_policy",
    "set_frozen_bn_eval",
    "set_trainable",
    "trainable_parameters",
]
