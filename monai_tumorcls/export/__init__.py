"""Deployment: ONNX export of a bundle's network and an ONNX Runtime network for the bundles' inference configs.

TorchScript export is MONAI's own ``python -m monai.bundle ckpt_export`` (the networks script as they are).
"""

from .onnx import ONNX_IO_NAMES, OnnxRuntimeNetwork, export_onnx, refuse_saliency

__all__ = ["ONNX_IO_NAMES", "OnnxRuntimeNetwork", "export_onnx", "refuse_saliency"]
