"""Integration: the multi-GPU overlay of the main bundle, launched the way users do (``torchrun``), here with two
CPU processes and the gloo backend on a tiny budget of real Kaggle images.

Checks that both ranks trained, that DistributedDataParallel kept their models identical (each rank logs the
checksum of its weights, the run fails if they differ, and the test compares them itself), that only rank 0
wrote files, and that the checkpoint is a plain ``ResNetClassifier`` state dict without the ``module.`` prefix.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from monai_tumorcls.checkpoint import load_checkpoint
from monai_tumorcls.handlers import state_checksum
from monai_tumorcls.networks import ResNetClassifier

from .helpers import PROJECT_ROOT

CFG = "bundles/resnet18_binary/configs"
BUDGET = {
    "max_per_class": 6,  # 24 Training images: 20 training, 4 validation
    "max_per_class_test": 1,
    "epochs": 1,
    "image_size": 64,
    "batch_size": 4,
    "num_workers": 0,
    "cache_rate": 0,
    # 3 validation items over 2 ranks: uneven shards (2 + 1), each item must be counted once
    "validate#dataset#data": "$@datalists['validation'][:3]",
}
CHECK_LINE = re.compile(r"replica check: rank (\d+) of (\d+), model state sha256 ([0-9a-f]{64})")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, kaggle_root):
    root = tmp_path_factory.mktemp("resnet18_binary_ddp")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "monai.bundle", "run", "training",
        "--config_file", f"['{CFG}/train.json','{CFG}/multi_gpu_train.json']",
        "--logging_file", f"{CFG}/logging.conf",
        "--bundle_root", str(root),
    ]
    for key, value in BUDGET.items():
        cmd += [f"--{key}", str(value)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)  # a hang fails
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"torchrun exit {proc.returncode}:\n{out[-6000:]}"
    return root, out


def test_both_ranks_trained_and_stayed_in_sync(ddp_run):
    _, out = ddp_run
    checks = {int(r): (int(w), digest) for r, w, digest in CHECK_LINE.findall(out)}
    assert set(checks) == {0, 1}, out[-4000:]
    assert {w for w, _ in checks.values()} == {2}
    assert checks[0][1] == checks[1][1], "DDP replicas ended with different weights"
    assert "model replicas differ" not in out


def test_checkpoint_is_plain_and_equals_the_replicas(ddp_run):
    root, out = ddp_run
    ckpt = root / "models" / "model.pt"
    state = load_checkpoint(ckpt)
    assert state and not [k for k in state if k.startswith("module.")]
    net = ResNetClassifier("resnet18", num_classes=2)
    net.load_state_dict(state)  # strict
    # one epoch: the best checkpoint is the final model, identical on both ranks
    digest = CHECK_LINE.search(out).group(3)
    assert state_checksum(state) == digest
    info = json.loads((root / "models" / "model.pt.json").read_text())
    assert info["kind"] == "best" and info["epoch"] == 1
    # accuracy over the 3 validation items, gathered across ranks: a multiple of 1/3, not of 1/2 or 1/4
    assert abs(info["val_acc"] * 3 - round(info["val_acc"] * 3)) < 1e-6, info


def test_only_rank_zero_wrote_files(ddp_run):
    root, out = ddp_run
    events = list((root / "runs").glob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    writers = {p.name.split(".")[-2] for p in events}  # events.out.tfevents.<time>.<host>.<pid>.<n>
    assert len(writers) == 1, f"event files from several processes: {sorted(p.name for p in events)}"
    assert sorted(p.name for p in (root / "models").iterdir()) == ["model.pt", "model.pt.json", "training_state.pt"]
    assert out.count("saved checkpoint") == 1 and out.count("saved training state") == 1  # 1 epoch, rank 0 only
