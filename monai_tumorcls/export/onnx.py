"""ONNX export of a bundle's ``network_def`` and an ``nn.Module`` that runs the
exported file with ONNX Runtime, so the bundles' evaluators and clinical run use it unchanged."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch
from monai.networks.utils import convert_to_onnx
from monai.utils import optional_import
from torch import nn

from monai_tumorcls.bundle.config import load_bundle_config
from monai_tumorcls.checkpoint import checkpoint_train_overrides, load_checkpoint, read_checkpoint_metadata

ort, _ = optional_import("onnxruntime")

__all__ = ["ONNX_IO_NAMES", "OnnxRuntimeNetwork", "export_onnx", "refuse_saliency"]

#: input and output names of the exported graph (the bundles' ``image`` -> ``pred``).
ONNX_IO_NAMES = ("image", "pred")


def export_onnx(
    bundle_root: str | os.PathLike = ".",
    filepath: str | os.PathLike | None = None,
    ckpt_file: str | os.PathLike | None = None,
    config_file: str = "train.json",
    accept_edited_checkpoint: bool | str = False,
    **override: Any,
) -> Path:
    """
    Export a bundle's trained ``network_def`` to ONNX with MONAI's ``convert_to_onnx`` (torch's torch.export-based
    exporter, which works offline), check ONNX Runtime reproduces PyTorch on the example input, and write the file.
    The batch size is dynamic; the image size is fixed to the bundle's ``image_size``.

    Args:
        bundle_root: the bundle folder (holding ``configs/``).
        filepath: the ONNX file to write. Defaults to ``<bundle_root>/models/model.onnx``.
        ckpt_file: the checkpoint, read by :func:`~monai_tumorcls.checkpoint.load_checkpoint`. Defaults to
            ``<bundle_root>/models/model.pt``.
        config_file: the config in ``configs/`` defining ``network_def`` and ``image_size``.
        accept_edited_checkpoint: use checkpoint metadata that its digest does not bind to the weights (the schema
            is checked all the same).
        override: config overrides, e.g. ``image_size=64``; the checkpoint's own settings (its metadata, as at
            inference) apply first and an override contradicting them is refused.

    Returns:
        the path written.

    Example::

        python -m monai_tumorcls.export onnx --bundle_root bundles/resnet18_binary

    """
    bundle_root = Path(bundle_root).resolve()
    filepath = Path(filepath or bundle_root / "models" / "model.onnx")
    ckpt_file = ckpt_file or bundle_root / "models" / "model.pt"
    overrides = checkpoint_train_overrides(read_checkpoint_metadata(ckpt_file, accept_edited_checkpoint), override)
    parser = load_bundle_config(bundle_root, config_file, {**overrides, "pretrained": None, "bundle_root": str(bundle_root)})
    network = parser.get_parsed_content("network_def")
    load_checkpoint(ckpt_file, network)
    image_size = int(parser.get_parsed_content("image_size"))
    example = torch.rand(2, network.in_channels, image_size, image_size)
    filepath.parent.mkdir(parents=True, exist_ok=True)
    convert_to_onnx(
        network,
        [example],
        input_names=[ONNX_IO_NAMES[0]],
        output_names=[ONNX_IO_NAMES[1]],
        dynamic_shapes=({0: torch.export.Dim("batch")},),  # this and external_data: passed on to torch.onnx.export
        external_data=False,  # one self-contained file (the weights are far below ONNX's 2 GB limit)
        filename=str(filepath),
        verify=True,
        device=torch.device("cpu"),
        use_ort=True,
        atol=1e-4,
    )
    return filepath


class OnnxRuntimeNetwork(nn.Module):
    """
    An exported network run by ONNX Runtime, behind the ``nn.Module`` interface the bundles' ``SupervisedEvaluator``
    and clinical run call: ``(B, C, H, W)`` tensor in, logits out on the input's device. It has no parameters and
    no gradients (Grad-CAM needs the PyTorch network).

    Args:
        filepath: the ``.onnx`` file (from :func:`export_onnx`).
        providers: ONNX Runtime execution providers. Defaults to ``["CPUExecutionProvider"]``.
        num_threads: intra-op threads; ``None`` lets ONNX Runtime choose (all cores).
    """

    def __init__(self, filepath: str | os.PathLike, providers: Sequence[str] | None = None, num_threads: int | None = None) -> None:
        super().__init__()
        if not Path(filepath).is_file():
            raise FileNotFoundError(f"{filepath}: ONNX model not found (export it with `python -m monai_tumorcls.export onnx`)")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        self.session = ort.InferenceSession(str(filepath), options, providers=list(providers or ["CPUExecutionProvider"]))
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self.session.run(None, {self.input_name: image})
        return torch.from_numpy(logits).to(x.device)


def refuse_saliency(saliency: bool) -> None:
    """Stop an ONNX inference run asked for Grad-CAM, which needs the PyTorch network's gradients."""
    if saliency:
        raise ValueError("--saliency true needs gradients: run configs/inference.json (PyTorch) for Grad-CAM overlays")
