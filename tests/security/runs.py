"""Runs of the inference command for the attacker suite: a tiny checkpoint, a noise image, and the command's own
function run in this process (``python -m monai.bundle run --config_file <inference.json> ...`` without a new
interpreter, so that dozens of hostile runs take seconds)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path

import monai.bundle
import numpy as np
import torch
from PIL import Image

from monai_tumorcls.networks import ResNetClassifier
from tests.bundles.helpers import PROJECT_ROOT

CONFIG = "bundles/resnet18_binary/configs/inference.json"


def write_checkpoint(path: Path, weights: dict | None = None) -> Path:
    """A random (seeded) ResNet18 state dict without metadata at ``path``, with ``weights`` replacing some tensors."""
    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**ResNetClassifier("resnet18", num_classes=2).state_dict(), **(weights or {})}, path)
    return path


def write_image(path: Path, seed: int = 0) -> Path:
    """A noise image (an image with signal, not blank, not tiny) in the format of ``path``'s suffix."""
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 40), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@contextlib.contextmanager
def _logging_kept():
    """Undo what a bundle run does to logging: its ``logging.conf`` (``fileConfig``) replaces the root handlers and
    disables every logger that existed, which would hide later tests' log records from pytest's caplog."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    disabled = {name: lg.disabled for name, lg in logging.Logger.manager.loggerDict.items()
                if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level
        for name, was_disabled in disabled.items():
            logging.getLogger(name).disabled = was_disabled


def run_inference(checkpoint: Path, input_dir: Path, output_dir: Path, **overrides) -> tuple[int, dict | None]:
    """Exit status and ``predictions.json`` (``None`` when not written) of the inference command's own function
    (``python -m monai.bundle run --config_file <inference.json> ...``), run in this process at 64 px
    (``train_overrides`` replaces that)."""
    hook = sys.excepthook  # the run installs its one-line hook: restored after
    with _logging_kept():
        try:
            monai.bundle.run(config_file=str(PROJECT_ROOT / CONFIG), bundle_root=str(checkpoint.parent),
                             checkpoint=str(checkpoint), input_dir=str(input_dir), output_dir=str(output_dir),
                             **{"train_overrides": {"image_size": 64}, **overrides})
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        finally:
            sys.excepthook = hook
    table = Path(output_dir) / "predictions.json"
    return code, json.loads(table.read_text()) if table.is_file() else None
