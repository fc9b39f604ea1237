"""Command line: ``python -m monai_tumorcls.export onnx|torchscript --bundle_root bundles/resnet18_binary
[--image_size 64 ...]``."""

from monai.utils import optional_import

from .onnx import export_onnx
from .torchscript import export_torchscript

if __name__ == "__main__":
    fire, _ = optional_import("fire")
    fire.Fire({"onnx": export_onnx, "torchscript": export_torchscript})
