"""TorchScript export of a bundle's ``network_def`` that describes itself.

MONAI's ``python -m monai.bundle ckpt_export`` stores only the bundle's ``metadata.json`` and config files in the
TorchScript file: it has no way to add the class names, image size, preprocessing, temperature and checkpoint
SHA-256 that the model needs to be used without its checkpoint. :func:`export_torchscript` writes the same file
(MONAI's converter and saver: ``metadata.json`` and ``train.json`` as extra files, readable with
:func:`monai.data.load_net_with_metadata`) plus the extra file ``model_description.json``
(:mod:`.description`), and reads the checkpoint's settings (backbone, head, image size) from its metadata.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from monai.data import save_net_with_metadata
from monai.networks.utils import convert_to_torchscript

from monai_tumorcls.utils.atomic import atomic_write_bytes

from .description import TORCHSCRIPT_FILE, model_description
from .source import ExportRequest, load_export_source

__all__ = ["export_torchscript"]


def export_torchscript(
    bundle_root: str | os.PathLike = ".",
    filepath: str | os.PathLike | None = None,
    ckpt_file: str | os.PathLike | None = None,
    config_file: str = "train.json",
    accept_edited_checkpoint: bool | str = False,
    **override: Any,
) -> Path:
    """
    Script a bundle's trained ``network_def`` (no tracing: the model takes any image size), check it reproduces
    PyTorch on an example batch, and write it with the extra files ``metadata.json`` (the bundle's),
    ``<config_file>`` and ``model_description.json``.

    Args:
        bundle_root: the bundle folder (holding ``configs/``).
        filepath: the TorchScript file to write. Defaults to ``<bundle_root>/models/model.ts``.
        ckpt_file: the checkpoint. Defaults to ``<bundle_root>/models/model.pt``.
        config_file: the config in ``configs/`` defining ``network_def`` and ``image_size``.
        accept_edited_checkpoint: use checkpoint metadata that its digest does not bind to the weights.
        override: config overrides; the checkpoint's own settings apply first and an override contradicting them
            is refused.

    Returns:
        the path written.

    Example::

        python -m monai_tumorcls.export torchscript --bundle_root bundles/resnet18_binary

    """
    request = ExportRequest(bundle_root, ckpt_file, config_file, accept_edited_checkpoint, override)
    source = load_export_source(request)
    configs = Path(bundle_root).resolve() / "configs"
    filepath = Path(filepath or configs.parent / "models" / "model.ts")
    size = source.image_size
    example = torch.rand(2, source.network.in_channels, size, size)
    scripted = convert_to_torchscript(source.network, verify=True, inputs=[example], device=torch.device("cpu"),
                                      atol=1e-4)
    meta = configs / "metadata.json"
    extra = {Path(config_file).stem + ".json": json.dumps(json.loads((configs / config_file).read_text())).encode(),
             TORCHSCRIPT_FILE: json.dumps(model_description(source)).encode()}
    buffer = io.BytesIO()  # written in one piece: no half-written model left by a failure
    save_net_with_metadata(scripted, buffer, include_config_vals=False,
                           meta_values=json.loads(meta.read_text()) if meta.is_file() else {}, more_extra_files=extra)
    filepath.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(filepath, buffer.getvalue())
