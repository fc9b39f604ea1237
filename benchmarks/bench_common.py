"""What the parts of ``benchmarks.train_throughput`` share: the bundle's data split, autocast dtype, device
synchronisation and epoch timing."""

from __future__ import annotations

import math
import random
import tempfile
import time
from pathlib import Path

import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def bundle_datalists(bundle: str, max_images: int | None, seed: int) -> dict[str, list[dict]]:
    """The bundle's own datalists (its split), with a seeded subset of at most ``max_images`` training items
    (validation subset in proportion)."""
    from monai_tumorcls.bundle import load_bundle_config

    parser = load_bundle_config(PROJECT_ROOT / "bundles" / bundle, overrides={"bundle_root": tempfile.gettempdir()})
    lists = parser.get_parsed_content("datalists")
    if max_images is None or max_images >= len(lists["training"]):
        return lists
    rng = random.Random(seed)
    n_val = max(1, math.ceil(max_images * len(lists["validation"]) / len(lists["training"])))
    return {
        "training": rng.sample(lists["training"], max_images),
        "validation": rng.sample(lists["validation"], min(n_val, len(lists["validation"]))),
        "testing": [],
    }


def amp_dtype(amp: str) -> torch.dtype | None:
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[amp]


class EpochTimer:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._t0 = 0.0

    def start(self, *_):
        self._t0 = time.perf_counter()

    def stop(self, *_):
        self.seconds.append(time.perf_counter() - self._t0)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model, optimizer, loss_fn, x, y, dtype: torch.dtype | None, scaler) -> None:
    """One optimiser step, autocast to ``dtype`` when given and with gradient scaling when ``scaler`` is given."""
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        loss = loss_fn(model(x), y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def time_epochs(args, device: torch.device, batches, step) -> list[float]:
    """Seconds taken by each of ``args.epochs`` epochs of ``step(x, y)`` over ``batches()``, device synchronised."""
    timer = EpochTimer()
    for _ in range(args.epochs):
        timer.start()
        for x, y in batches():
            step(x, y)
        sync(device)
        timer.stop()
    return timer.seconds


def train_row(kind: str, pipeline: str, arch: str, args, amp: str, images: int, epoch_s: list[float], **extra) -> dict:
    """One training-throughput row (the fields ``render_section`` tabulates); ``extra``: ``loader_workers`` (default
    0) and ``cache_fill_s`` (default None)."""
    return {
        "kind": kind, "pipeline": pipeline, "arch": arch, "amp": amp, "channels_last": args.channels_last,
        "images": images, "loader_workers": 0, "cache_fill_s": None, "epoch_s": epoch_s, **extra,
    }
