"""What an exported model says about itself, so that it runs without the checkpoint it came from.

The description is one JSON-like record, written into the ONNX file as ``metadata_props`` (one entry per key, each
value as JSON text) and into the TorchScript file as the extra file :data:`TORCHSCRIPT_FILE` (one JSON object). Its
keys are :data:`DESCRIPTION_KEYS`:

- ``package_version``, ``bundle`` (``name``, ``version``), ``checkpoint_sha256`` (of the checkpoint file exported),
  ``created`` (UTC): the provenance record (:meth:`~monai_tumorcls.checkpoint.Provenance.record`).
- ``output``: ``"logits"``, the network's raw class scores; ``activation``: ``"softmax"``. The class
  probabilities are ``softmax(logits / temperature)``, as the bundles' inference computes them.
- ``class_names`` (output order), ``image_size`` (pixels per side), ``in_channels``, ``preprocessing`` (each
  transform after loading, as :func:`~monai_tumorcls.checkpoint.describe_transforms` writes it), ``temperature``.
- ``train_options``: the ``train.json`` options that rebuild this preprocessing (a bundle's ONNX inference applies
  them as it applies a checkpoint's).
- ``validation``: the checkpoint's validation record, when it has one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from monai_tumorcls.checkpoint import OPTION_TYPES, describe_transforms, read_checkpoint_metadata, validate_metadata

from .source import ExportSource

__all__ = ["DESCRIPTION_KEYS", "TORCHSCRIPT_FILE", "decode_metadata_props", "described_checkpoint_meta",
           "encode_metadata_props", "model_description"]

#: the extra file of an exported TorchScript model that holds its description
TORCHSCRIPT_FILE = "model_description.json"
#: the keys of a description
DESCRIPTION_KEYS = ("class_names", "image_size", "preprocessing", "temperature", "train_options", "in_channels",
                    "output", "activation", "validation", "package_version", "bundle", "checkpoint_sha256", "created")
#: what a bundle's inference needs from a description
_NEEDED = ("class_names", "image_size", "preprocessing", "temperature", "train_options")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def model_description(source: ExportSource) -> dict:
    """The description of the trained network of ``source``."""
    parser, metadata = source.parser, source.metadata
    transforms = parser.get_parsed_content("prepare") + parser.get_parsed_content("normalise")
    description = {
        **source.provenance.record(),
        "output": "logits",
        "activation": "softmax",
        "class_names": [str(c) for c in parser.get_parsed_content("class_names")],
        "image_size": source.image_size,
        "in_channels": int(source.network.in_channels),
        "preprocessing": describe_transforms(transforms),
        "temperature": float(metadata.get("temperature", 1.0)),
        # the options a checkpoint may set: the inference schema refuses any other
        "train_options": {**{k: v for k, v in source.options.items() if k in OPTION_TYPES},
                          "image_size": source.image_size},
    }
    if metadata.get("validation") is not None:
        description["validation"] = metadata["validation"]
    return description


def encode_metadata_props(description: Mapping) -> dict[str, str]:
    """The ONNX ``metadata_props`` of a description: each value as JSON text."""
    return {key: json.dumps(value, sort_keys=True) for key, value in description.items()}


def decode_metadata_props(props: Mapping[str, str], source: str | Path) -> dict:
    """The description held in an ONNX file's ``metadata_props`` (``{}`` when it holds none of its keys; other
    keys are left alone). What inference uses from it is checked by :func:`described_checkpoint_meta`; the
    checkpoint SHA-256, which outputs repeat, here.

    Raises:
        ValueError: a value that is not JSON, or a checkpoint SHA-256 that is not 64 hex digits, naming ``source``.
    """
    description = {}
    for key in DESCRIPTION_KEYS:
        if key in props:
            try:
                description[key] = json.loads(props[key])
            except json.JSONDecodeError:
                raise ValueError(f"{source}: metadata_props {key!r} is not JSON text") from None
    sha = description.get("checkpoint_sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise ValueError(f"{source}: metadata_props 'checkpoint_sha256' is not a SHA-256 (64 hex digits)")
    return description


def described_checkpoint_meta(description: Mapping, checkpoint: str | Path, accept_edited: bool | str = False) -> dict:
    """The checkpoint metadata a bundle's inference uses for an exported model: from its ``description`` when it
    has one (checked by the checkpoint schema, as metadata read from a checkpoint), else the metadata of
    ``checkpoint`` beside it.

    Raises:
        ValueError: a description without what inference needs; neither a description nor a checkpoint file;
            metadata refused by the schema.
    """
    if description:
        missing = [key for key in _NEEDED if key not in description]
        if missing:
            raise ValueError(f"the model description lacks {missing}: export the model again")
        return validate_metadata(_checkpoint_shaped(description))
    if not Path(checkpoint).is_file():
        raise ValueError(f"the model holds no description (class names, image size, preprocessing) and there is no "
                         f"checkpoint {checkpoint} beside it: export it again with `python -m monai_tumorcls.export`")
    return read_checkpoint_metadata(checkpoint, accept_edited)


def _checkpoint_shaped(description: Mapping) -> dict:
    """The fields of a description that a checkpoint's metadata holds, under the metadata's names."""
    metadata = {
        "class_names": description["class_names"],
        "options": {**description["train_options"], "image_size": description["image_size"]},
        "preprocessing": description["preprocessing"],
        "temperature": description["temperature"],
    }
    if description.get("validation") is not None:
        metadata["validation"] = description["validation"]
    return metadata
