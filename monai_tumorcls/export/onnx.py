"""ONNX export of a bundle's ``network_def`` and an ``nn.Module`` that runs the exported file with ONNX Runtime, so
the bundles' evaluators and clinical run use it unchanged. The exported file describes itself in its
``metadata_props`` (:mod:`.description`), so that ``inference_onnx.json`` runs from it alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch
from monai.networks.utils import convert_to_onnx
from monai.utils import optional_import
from torch import nn

from monai_tumorcls.utils.atomic import atomic_write_bytes

from .description import decode_metadata_props, encode_metadata_props, model_description
from .source import ExportRequest, load_export_source

ort, _ = optional_import("onnxruntime")
onnx, _ = optional_import("onnx")

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
    exporter, which works offline), check ONNX Runtime reproduces PyTorch on the example input, and write the file
    with its description in ``metadata_props`` (class names, image size, preprocessing, temperature, checkpoint
    SHA-256...: :mod:`monai_tumorcls.export.description`). The batch size is dynamic; the image size is fixed to
    the bundle's ``image_size``.

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
    source = load_export_source(ExportRequest(bundle_root, ckpt_file, config_file, accept_edited_checkpoint, override))
    filepath = Path(filepath or Path(bundle_root).resolve() / "models" / "model.onnx")
    network, size = source.network, source.image_size
    example = torch.rand(2, network.in_channels, size, size)
    filepath.parent.mkdir(parents=True, exist_ok=True)
    model = convert_to_onnx(
        network,
        [example],
        input_names=[ONNX_IO_NAMES[0]],
        output_names=[ONNX_IO_NAMES[1]],
        dynamic_shapes=({0: torch.export.Dim("batch")},),  # this and external_data: passed on to torch.onnx.export
        external_data=False,  # one self-contained file (the weights are far below ONNX's 2 GB limit)
        verify=True,
        device=torch.device("cpu"),
        use_ort=True,
        atol=1e-4,
    )
    onnx.helper.set_model_props(model, encode_metadata_props(model_description(source)))
    atomic_write_bytes(filepath, model.SerializeToString())  # no half-written model left by a failure
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

    Attributes:
        description: what the file says about itself (:mod:`monai_tumorcls.export.description`; ``{}`` for a file
            without a description).
    """

    def __init__(self, filepath: str | os.PathLike, providers: Sequence[str] | None = None, num_threads: int | None = None) -> None:
        super().__init__()
        if not Path(filepath).is_file():
            raise FileNotFoundError(f"{filepath}: ONNX model not found (export it with `python -m monai_tumorcls.export onnx`)")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        self.filepath = Path(filepath)
        self.session = ort.InferenceSession(str(filepath), options, providers=list(providers or ["CPUExecutionProvider"]))
        self.input_name = self.session.get_inputs()[0].name
        self.description = decode_metadata_props(self.session.get_modelmeta().custom_metadata_map, filepath)

    def check_image_size(self, image_size: int) -> None:
        """Refuse a preprocessing that makes images of another size than the graph takes (ONNX Runtime would fail
        on the first batch with an "invalid dimensions" traceback).

        Raises:
            ValueError: one line naming the file and both sizes.
        """
        height, width = self.session.get_inputs()[0].shape[-2:]
        fixed = [d for d in (height, width) if isinstance(d, int)]  # a symbolic (free) size takes any
        if any(d != int(image_size) for d in fixed):
            raise ValueError(f"{self.filepath}: the ONNX graph takes {height}x{width} images, the preprocessing makes "
                             f"{image_size}x{image_size} (export the model again, or give the image size it was "
                             "exported with in --train_overrides)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self.session.run(None, {self.input_name: image})
        return torch.from_numpy(logits).to(x.device)


def refuse_saliency(saliency: bool) -> None:
    """Stop an ONNX inference run asked for Grad-CAM, which needs the PyTorch network's gradients."""
    if saliency:
        raise ValueError("--saliency true needs gradients: run configs/inference.json (PyTorch) for Grad-CAM overlays")
