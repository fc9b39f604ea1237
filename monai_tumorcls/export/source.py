"""The trained network an export starts from: a bundle's ``network_def`` built with its checkpoint's settings,
the checkpoint's weights loaded by the safe reader, and what describes it (shared by the ONNX and TorchScript
exports, so that both describe the same model the same way)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai.bundle import ConfigParser
from torch import nn

from monai_tumorcls.bundle.config import bundle_version, load_bundle_config
from monai_tumorcls.checkpoint import (
    Provenance,
    check_checkpoint_values,
    checkpoint_provenance,
    checkpoint_train_overrides,
    load_checkpoint,
    read_checkpoint_metadata,
)

__all__ = ["ExportRequest", "ExportSource", "load_export_source"]


@dataclass
class ExportRequest:
    """What to export.

    Attributes:
        bundle_root: the bundle folder (holding ``configs/``).
        ckpt_file: the checkpoint; None: ``<bundle_root>/models/model.pt``.
        config_file: the config in ``configs/`` defining ``network_def``, ``image_size`` and the preprocessing.
        accept_edited_checkpoint: use checkpoint metadata that its digest does not bind to the weights (the schema
            is checked all the same).
        override: config overrides, e.g. ``{"image_size": 64}``; the checkpoint's own settings apply first and an
            override contradicting them is refused.
    """

    bundle_root: str | os.PathLike = "."
    ckpt_file: str | os.PathLike | None = None
    config_file: str = "train.json"
    accept_edited_checkpoint: bool | str = False
    override: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportSource:
    """A trained network ready to export (in eval mode), with the parsed config it was built from, its checkpoint's
    metadata (``{}`` for a plain state dict), the train-config overrides used and its provenance."""

    network: nn.Module
    parser: ConfigParser
    metadata: dict
    options: dict
    provenance: Provenance

    @property
    def image_size(self) -> int:
        return int(self.parser.get_parsed_content("image_size"))


def load_export_source(request: ExportRequest) -> ExportSource:
    """Build the bundle's network with the checkpoint's settings and load its weights.

    Raises:
        CheckpointMismatchError: an override, or the bundle's preprocessing, contradicts the checkpoint.
        ValueError, FileNotFoundError: a checkpoint that cannot be read or does not fit (one line naming it).
    """
    bundle_root = Path(request.bundle_root).resolve()
    ckpt_file = Path(request.ckpt_file or bundle_root / "models" / "model.pt")
    metadata = read_checkpoint_metadata(ckpt_file, request.accept_edited_checkpoint)
    options = checkpoint_train_overrides(metadata, request.override)
    parser = load_bundle_config(bundle_root, request.config_file,
                                {**options, "pretrained": None, "bundle_root": str(bundle_root)})
    network = parser.get_parsed_content("network_def")
    load_checkpoint(ckpt_file, network)
    transforms = parser.get_parsed_content("prepare") + parser.get_parsed_content("normalise")
    check_checkpoint_values(metadata, {"image_size": parser.get_parsed_content("image_size"),
                                       "class_names": parser.get_parsed_content("class_names")}, transforms)
    provenance = checkpoint_provenance(ckpt_file, str(parser.get_parsed_content("bundle_name")),
                                       bundle_version(bundle_root))
    return ExportSource(network.eval(), parser, metadata, options, provenance)
