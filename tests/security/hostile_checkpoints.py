"""Checkpoints as an attacker writes them: a tiny genuine one (64 px, the bundle's own metadata, a valid digest),
and copies with a payload planted in one metadata field, or with broken weights or temperature. Each planted copy
gets a *recomputed* digest, so what refuses it is the schema, not the digest."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.checkpoint import save_checkpoint

from tests.bundles.helpers import PROJECT_ROOT

BUNDLE = "resnet18_binary"
IMAGE_SIZE = 64
#: a validation record as the benchmark stamps it (``metadata["validation"]``), so payloads are planted there too
VALIDATION = {"trained_on": ["kaggle", "lgg", "ixi"], "volumes_validated": False,
              "summary": "5 LGG folds, held-out people: FLAIR slice AUC 0.85.",
              "held_out": {"flair.slice_auc": 0.85, "ixi.called_tumour_rate": 0.0},
              "source": "docs/reports/external_validation.md"}


def genuine(root: Path) -> tuple[dict, dict]:
    """The state dict and metadata (with a validation record) of a tiny checkpoint of the default bundle (random
    weights, seeded)."""
    torch.manual_seed(0)
    overrides = {"image_size": IMAGE_SIZE, "bundle_root": str(root), "checkpoint_meta#data": {}}
    parser = load_bundle_config(PROJECT_ROOT / "bundles" / BUNDLE, "train.json", overrides)
    network = parser.get_parsed_content("network_def").eval()
    metadata = parser.get_parsed_content("checkpoint_meta")
    return network.state_dict(), {**metadata, "temperature": 1.5, "validation": copy.deepcopy(VALIDATION)}


def write_input_folder(folder: Path) -> Path:
    """A folder holding one PNG slice."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 255, (96, 80)).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "slice.png")
    return folder


def payloads(sentinel: Path, macro_file: Path) -> dict[str, object]:
    """Each form of config syntax, every one of which would create ``sentinel`` if MONAI's parser evaluated it
    (the ``@`` form refers to an item that does; the ``%`` form pulls it in from ``macro_file``)."""
    touch = f"$__import__('pathlib').Path({str(sentinel)!r}).touch() or 1"
    macro_file.write_text(json.dumps({"evil": touch}))
    return {
        "expression": touch,
        "reference": "@evil_item",
        "macro": f"%{macro_file}#evil",
        "in_list": [0.5, touch],
        "in_dict": {"value": touch},
        "component": {"_target_": "pathlib.Path.touch", "self": str(sentinel)},
        "padded": "  " + touch,
    }


def metadata_fields(metadata: dict) -> list[tuple[str, ...]]:
    """The place of every metadata field: each top-level key, each option and validation field, one held-out
    number, and a new key at each of these levels."""
    fields = [(k,) for k in metadata if k != "options"] + [("options", k) for k in metadata["options"]]
    fields += [("validation", k) for k in metadata.get("validation", {})]
    held_out = [("validation", "held_out", k) for k in metadata.get("validation", {}).get("held_out", {})][:1]
    new_keys = [("extra",), ("options", "extra"), ("validation", "extra"), ("validation", "held_out", "extra")]
    return fields + held_out + new_keys


def plant(metadata: dict, field: tuple[str, ...], payload) -> dict:
    """A copy of ``metadata`` with ``payload`` put at ``field`` (as an element where the field holds a list)."""
    planted = copy.deepcopy(metadata)
    holder = planted
    for key in field[:-1]:
        holder = holder[key]
    current = holder.get(field[-1])
    holder[field[-1]] = [*current, payload] if isinstance(current, list) else payload
    return planted


def write(path: Path, state: dict, metadata: dict | None) -> Path:
    """Write a checkpoint with a valid digest over whatever it holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(path, {"model": state}, metadata)
