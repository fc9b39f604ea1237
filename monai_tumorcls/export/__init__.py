"""Deployment: ONNX and TorchScript export of a bundle's network, each file describing itself (class names, image
size, preprocessing, temperature, checkpoint SHA-256: :mod:`.description`), and an ONNX Runtime network for the
bundles' inference configs."""

from .description import DESCRIPTION_KEYS, TORCHSCRIPT_FILE, described_checkpoint_meta, model_description
from .onnx import ONNX_IO_NAMES, OnnxRuntimeNetwork, export_onnx, refuse_saliency
from .source import ExportRequest, ExportSource, load_export_source
from .torchscript import export_torchscript

__all__ = [
    "DESCRIPTION_KEYS",
    "ONNX_IO_NAMES",
    "TORCHSCRIPT_FILE",
    "ExportRequest",
    "ExportSource",
    "OnnxRuntimeNetwork",
    "described_checkpoint_meta",
    "export_onnx",
    "export_torchscript",
    "load_export_source",
    "model_description",
    "refuse_saliency",
]
