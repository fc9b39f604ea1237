"""The user's inference command builds the network and preprocessing from a self-describing checkpoint: a tiny
64-px checkpoint (random weights, metadata from the bundle's own ``checkpoint_meta``) runs at 64 px with its
temperature by default, a contradicting override is refused with a one-line error, and a checkpoint without metadata
still runs, with a warning."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from monai_tumorcls.bundle import load_bundle_config
from monai_tumorcls.checkpoint import save_checkpoint

from .helpers import PROJECT_ROOT, run_bundle

BUNDLE = "resnet18_binary"
CFG = f"bundles/{BUNDLE}/configs/inference.json"
TEMPERATURE = 2.0


def _train_config(root, image_size: int):
    overrides = {"image_size": image_size, "bundle_root": str(root), "checkpoint_meta#data": {}}
    return load_bundle_config(PROJECT_ROOT / "bundles" / BUNDLE, "train.json", overrides)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A bundle root holding a 64-px checkpoint with metadata (temperature 2) and a folder of two PNG slices."""
    root = tmp_path_factory.mktemp("ckpt_meta")
    torch.manual_seed(0)
    parser = _train_config(root, 64)
    network = parser.get_parsed_content("network_def").eval()
    meta = {**parser.get_parsed_content("checkpoint_meta"), "temperature": TEMPERATURE}
    (root / "models").mkdir()
    save_checkpoint(root / "models" / "model.pt", {"model": network.state_dict()}, meta)
    images = root / "in"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        yy, xx = np.mgrid[:180, :150]
        blob = 200 * np.exp(-((yy - 60 - 40 * i) ** 2 + (xx - 75) ** 2) / 300.0)
        Image.fromarray((blob + rng.uniform(0, 40, blob.shape)).clip(0, 255).astype(np.uint8)).save(images / f"s{i}.png")
    return root, network


def _probabilities(network, image_size: int, temperature: float, files) -> np.ndarray:
    transform = _train_config(files[0].parent.parent, image_size).get_parsed_content("preprocessing")
    with torch.no_grad():
        x = torch.stack([transform({"image": str(f)})["image"] for f in files])
        return torch.softmax(network(x) / temperature, dim=1).numpy()


def test_checkpoint_settings_are_used_by_default(tiny):
    root, network = tiny
    proc = run_bundle(CFG, bundle_root=str(root), input_dir=str(root / "in"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = sorted(csv.DictReader(open(root / "outputs" / "predictions.csv")), key=lambda r: r["file"])
    got = np.array([[float(r["prob_notumor"]), float(r["prob_tumor"])] for r in rows])
    files = sorted((root / "in").iterdir())
    expected = _probabilities(network, 64, TEMPERATURE, files)
    np.testing.assert_allclose(got, expected, atol=1e-4)  # 64 px and softmax(logits / T), from the checkpoint
    assert np.abs(_probabilities(network, 224, 1.0, files) - expected).max() > 1e-3  # the bundle default differs


@pytest.mark.parametrize("override", [{"image_size": "224"}, {"train_overrides#backbone": "resnet50"}])
def test_contradicting_override_is_refused_in_one_line(tiny, override):
    root, _ = tiny
    proc = run_bundle(CFG, bundle_root=str(root), input_dir=str(root / "in"), **override)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-4000:]
    name, value = next(iter(override.items()))
    name = name.split("#")[-1]
    trained = {"image_size": "64", "backbone": "'resnet18'"}[name]
    line = f"{name}={value if name == 'image_size' else repr(value)} contradicts the checkpoint, trained with {name}={trained}"
    assert line in out and "Traceback" not in out


def test_checkpoint_without_metadata_still_runs_with_a_warning(tiny, tmp_path):
    root, network = tiny
    (tmp_path / "models").mkdir()
    torch.save(network.state_dict(), tmp_path / "models" / "model.pt")
    proc = run_bundle(CFG, bundle_root=str(tmp_path), input_dir=str(root / "in"), **{"train_overrides#image_size": "64"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "holds no metadata" in out
    rows = list(csv.DictReader(open(tmp_path / "outputs" / "predictions.csv")))
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
