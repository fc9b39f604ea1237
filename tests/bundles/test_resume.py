"""Integration: a training run killed with SIGKILL in the middle of an epoch and resumed with ``--resume true`` ends
with exactly the weights, best checkpoint and metrics of an uninterrupted run of the same seed (CPU).

Bit-identical, not within a tolerance: the training state restores every random state the run draws from (python,
numpy, torch, the random transforms of the training data loader), the resumed run starts at the epoch boundary the
state was written at, and both runs use the same thread count, so the CPU kernels see the same inputs in the same
order. Budget: 16 real Kaggle images at 32 px (13 for training), 2 epochs of 4 iterations.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest
import torch

from .helpers import PROJECT_ROOT, bundle_command, check, run_bundle

CFG = "bundles/resnet18_binary/configs/train.json"
BUDGET = {"max_per_class": 4, "max_per_class_test": 1, "image_size": 32, "batch_size": 4, "epochs": 2,
          "num_workers": 0, "learning_rate": 0.001}


def _run_until_killed(root, trigger: str, timeout: float = 120) -> int:
    """Start training, SIGKILL it as soon as ``trigger`` appears in its log; return its pid."""
    cmd, env = bundle_command(CFG, "training", bundle_root=str(root), **BUDGET)
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    try:
        for line in proc.stdout:
            log.append(line)
            if trigger in line:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=timeout)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, "".join(log)[-4000:]
    return proc.pid


def _final_state(root):
    models = root / "models"
    state = torch.load(models / "training_state.pt", map_location="cpu", weights_only=True)
    best = torch.load(models / "model.pt", map_location="cpu", weights_only=True)
    return state, best, json.loads((models / "model.pt.json").read_text())


@pytest.mark.integration
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, kaggle_root):
    check(run_bundle(CFG, "training", bundle_root=str(tmp_path / "straight"), **BUDGET))

    killed = tmp_path / "killed"
    pid = _run_until_killed(killed, trigger="Epoch: 2/2, Iter: 2/")  # mid epoch 2, after epoch 1's state was saved
    trainer_state = torch.load(killed / "models" / "training_state.pt", weights_only=True)["trainer"]
    assert trainer_state["iteration"] == trainer_state["epoch_length"]  # epoch 1's state, not epoch 2's
    # what a save killed half-way leaves behind (atomic_write's temp name of the dead process)
    orphan = killed / "models" / f".training_state.pt.{socket.gethostname()}.{pid}.x1y2.tmp"
    orphan.write_bytes(b"half a checkpoint")

    proc = check(run_bundle(CFG, "training", bundle_root=str(killed), resume="true", **BUDGET))
    assert "resumed from" in proc.stdout and "at epoch 1 of 2" in proc.stdout, proc.stdout[-3000:]
    assert not orphan.exists()

    (state_a, best_a, info_a), (state_b, best_b, info_b) = _final_state(tmp_path / "straight"), _final_state(killed)
    assert info_a == info_b  # best epoch and its val_acc
    for part_a, part_b in ((best_a, best_b), (state_a["network"], state_b["network"]),
                           (state_a["optimizer"], state_b["optimizer"])):
        flat_a, flat_b = _tensors(part_a), _tensors(part_b)
        assert flat_a and flat_a.keys() == flat_b.keys()
        assert all(torch.equal(flat_a[k], flat_b[k]) for k in flat_a)
    for part in ("trainer", "early_stop", "checkpoint_saver", "evaluator", "trainer_best_metric"):
        assert state_a[part] == state_b[part], part


def _tensors(tree, prefix="") -> dict:
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else []
    return {k: v for key, sub in items for k, v in _tensors(sub, f"{prefix}/{key}").items()}

